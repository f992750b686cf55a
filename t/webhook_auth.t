# Who may make us send a WhatsApp message, and what we do with what they
# send: Chatwoot's signature (or the weaker URL token), its timestamp
# window, replays, content type, malformed bodies, and the events we leave
# alone on purpose.  Every refusal has its status and its counter, and
# nothing refused or ignored reaches the queue.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest qw(free_port);
use ChatwootTest::Payloads qw(message_created message_updated status_changed typing);
use JSON::PP;
use Test::More;

my $t = ChatwootTest->new;
my $port = free_port();
$t->write_config($t->chatwoot_http(port => $port))->run;
$t->wait_helper_running;

my $id = 1000;
sub reply { message_created(id => ++$id, @_) }

sub expect {
    my ($name, $want_code, $want_error, @args) = @_;
    my ($code, undef, $body) = $t->webhook($port, @args);
    is($code, $want_code, "$name: $want_code");
    like($body, $want_error, "$name: says why") if $want_error;
    return $body;
}

# Authentication.
expect('unsigned', 401, qr/"error":"missing signature"/, reply(), secret => undef);
expect('no timestamp', 401, qr/"error":"missing timestamp"/, reply(),
       headers => { 'X-Chatwoot-Timestamp' => undef });
expect('wrong secret', 401, qr/"error":"bad signature"/, reply(), secret => 'not-the-secret');
expect('malformed signature', 401, qr/"error":"malformed signature"/, reply(),
       headers => { 'X-Chatwoot-Signature' => 'sha256=xyz' });
expect('stale timestamp', 401, qr/"error":"stale timestamp"/, reply(), ts => time - 301);
expect('future timestamp', 401, qr/"error":"timestamp in the future"/, reply(), ts => time + 120);
{
    # the body changed after signing
    my $body = reply();
    my $ts = time;
    my $sig = 'sha256=' . Digest::SHA::hmac_sha256_hex("$ts.$body", 'test-webhook-secret');
    (my $tampered = $body) =~ s/verifiquei/VERIFIQUEI/;
    expect('tampered body', 401, qr/"error":"bad signature"/, $tampered, secret => undef,
           headers => { 'X-Chatwoot-Timestamp' => $ts, 'X-Chatwoot-Signature' => $sig });
}

# Content type, checked after the signature.
expect('wrong content type', 415, qr/"error":"content type must be application\/json"/,
       reply(), headers => { 'Content-Type' => 'text/plain' });
expect('charset is fine', 202, undef, reply(),
       headers => { 'Content-Type' => 'application/json; charset=utf-8' });

# Malformed bodies, signed (so they reach the parser).
expect('not JSON', 400, qr/"error":"malformed JSON at offset \d+"/, '{"event": nope}');
expect('not an object', 400, qr/"error":"body is not a JSON object"/, '[1,2]');
expect('no event', 400, qr/"error":"missing field event"/, '{"id":1}');
{
    my $m = decode_json(reply());
    delete $m->{conversation}{id};
    expect('missing conversation id', 400, qr/"error":"missing field conversation\.id"/,
           encode_json($m));
    $m = decode_json(reply());
    $m->{message_type} = 1;
    expect('wrong type', 400, qr/"error":"field message_type is not a string"/, encode_json($m));
}

# Replays: the same signed request, or the same delivery id.
my $once = reply(content => 'once');
my $ts = time;
expect('first delivery', 202, undef, $once, ts => $ts, delivery => 'aaaaaaaa-0000-4000-8000-000000000001');
expect('the same request again', 409, qr/"error":"replayed webhook"/, $once, ts => $ts,
       delivery => 'aaaaaaaa-0000-4000-8000-000000000001');
expect('the same request, another delivery id', 409, qr/replayed/, $once, ts => $ts,
       delivery => 'aaaaaaaa-0000-4000-8000-000000000002');
expect('another body, a used delivery id', 409, qr/replayed/, reply(),
       delivery => 'aaaaaaaa-0000-4000-8000-000000000001');

# Events left alone on purpose: 200, counted, not queued.
my $ignored = qr/^\{"ignored":true\}$/;
for my $case (
    [ 'private note', reply(private => 1) ],
    [ 'incoming message (our own post, echoed)', reply(message_type => 'incoming') ],
    [ 'activity message', reply(message_type => 'activity') ],
    [ 'outgoing we sent from WhatsApp', reply(source_id => 'WAID:3EB0C431C2B1F4D3A3E2') ],
    [ 'message_updated that is no deletion', message_updated(id => 5) ],
    [ 'unknown event', '{"event":"contact_updated","id":42,"name":"Maria"}' ],
    [ 'private typing', typing(on => 1, private => 1) ],
) {
    my ($name, $body) = @$case;
    my ($code, undef, $answer) = $t->webhook($port, $body);
    is($code, 200, "$name: 200");
    like($answer, $ignored, "$name: says ignored");
}

# Events the helper acts on.
expect('deletion', 202, undef,
       message_updated(id => 77, content_attributes => { deleted => JSON::PP::true },
                       source_id => 'WAID:3EB0AA'));
expect('status change', 202, undef, status_changed(status => 'resolved'));
expect('typing', 202, undef, typing(on => 1));

my $s = $t->wait_for(sub {
    my $st = $t->status;
    $st->{queue}{depth} == 0 && $st->{store}{persisted} == 5 ? $st : undef;
}, 5, 'five persisted');
my %want = (queued => 5, unsigned => 2, signature => 3, timestamp => 2, content_type => 1,
            malformed => 5, replay => 3, private => 2, not_outgoing => 2, own_echo => 1,
            not_deletion => 1, unknown_event => 1, token => 0, unconfigured => 0);
is($s->{webhook}{$_}, $want{$_}, "webhook.$_ = $want{$_}") for sort keys %want;
is($s->{queue}{enqueued}, 5, 'only the five reached the queue');

my $types = $t->sql(q{SELECT json_extract(payload, '$.event.type') FROM inbound_events ORDER BY id});
is_deeply([map { $_->[0] } @$types], [qw(send send delete status typing)],
          'the stored events, in order');

# Refusals are logged at info, at most once a second per cause.
my $log = $t->read_file('error.log');
like($log, qr/\[info\].*chatwoot webhook for inbox "main" refused: missing signature/,
     'a refusal is logged at info with its reason');

$t->finish;

# The URL token, for Chatwoot versions that do not sign.
my $u = ChatwootTest->new;
$port = free_port();
$u->write_config($u->chatwoot_http(port => $port,
                                   inbox => { secret => undef, token => 'url-token-123' }))->run;
$u->wait_helper_running;
my ($code) = $u->webhook($port, reply());
is($code, 202, 'token mode: the right token is accepted');
($code) = $u->webhook($port, reply(), path => '/chatwoot/webhook?token=wrong');
is($code, 401, 'token mode: a wrong token is refused');
($code) = $u->webhook($port, reply(), path => '/chatwoot/webhook');
is($code, 401, 'token mode: no token is refused');
my $body = reply();
($code) = $u->webhook($port, $body);
($code) = $u->webhook($port, $body);
is($code, 409, 'token mode: the same body twice is a replay');
$u->finish;

# Neither secret nor token: nginx -t warns, every request is refused.
my $v = ChatwootTest->new;
$port = free_port();
$v->write_config($v->chatwoot_http(port => $port, inbox => { secret => undef }));
my (undef, $out) = $v->test_config;
like($out, qr/\[warn\].*chatwoot_inbox "main" has neither "webhook_secret" nor "webhook_token": its webhook refuses every request/,
     'nginx -t warns about an unauthenticated inbox');
$v->run;
$v->wait_helper_running;
my ($c2, undef, $b2) = $v->webhook($port, reply());
is($c2, 401, 'an unauthenticated inbox refuses a webhook');
like($b2, qr/webhook authentication not configured/, 'and says why');
is($v->status->{webhook}{unconfigured}, 1, 'counted');
$v->allow_log(qr/\[warn\].*has neither/);
$v->finish;

done_testing;
