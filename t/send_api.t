# The send API for applications (issue 13): chatwoot_send through real
# nginx, the fake Chatwoot and the loopback WhatsApp server.  A send to a
# phone number reaches the contact once and shows in Chatwoot as outgoing
# in the contact's conversation; Chatwoot's webhook echo of it sends
# nothing again; GET reports sent with the WhatsApp id; a repeated
# Idempotency-Key answers the first id and sends nothing, across a helper
# killed between accept and send too, and (the helper's own table) across
# a restart of nginx; a helper killed while Chatwoot takes the post posts
# nothing twice; a number not on WhatsApp fails with that reason, with
# nothing made in Chatwoot; a full queue answers 503;
# 401, 400 per field, 413, 405; and nginx -t refuses a token file that is
# missing, empty or readable by others.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest qw(free_port);
use ChatwootTest::FakeChatwoot;
use ChatwootTest::Payloads qw(message_created);
use JSON::PP qw(encode_json decode_json);
use Test::More;

my $t = ChatwootTest->new;
my $TOKEN = 'app-token-' . join('', map { ('a'..'z', 0..9)[rand 36] } 1 .. 24);
my $token_file = $t->write_file('send.token', "$TOKEN\n");
chmod 0600, $token_file or die "chmod: $!";
my $SEND = '/api/send';

# --- nginx -t: the token file's checks, each error naming the directive and the value.
{
    my $module = $ENV{CHATWOOT_MODULE} // die "CHATWOOT_MODULE\n";
    my $check = sub {
        my ($args, $re, $what, $zone) = @_;
        my $dir = $t->dir;
        $zone = $zone ? "chatwoot_zone $zone;" : '';
        my $path = $t->write_file('t.conf', <<"EOF");
load_module $module;
error_log $dir/test.log;
pid $dir/test.pid;
events { worker_connections 64; }
http {
    chatwoot_state_path $dir/state-t;
    $zone
    chatwoot_inbox main { url http://127.0.0.1:9/; account 1; inbox 7; api_token x; webhook_secret s; whatsapp off; }
    server { listen 127.0.0.1:9; location /api/send { chatwoot_send $args; } }
}
EOF
        my ($rc, $out) = $t->test_config($path);
        if (defined $re) {
            isnt($rc, 0, "nginx -t refuses $what");
            like($out, $re, "$what: the error says which and why");
        } else {
            is($rc, 0, "nginx -t takes $what") or diag $out;
        }
        unlike($out, qr/\Q$TOKEN\E/, "$what: the token is not in the output");
    };
    $check->("token_file=$token_file", undef, 'a private token file');
    $check->('token_file=' . $t->dir . '/nope.token', qr/"chatwoot_send": cannot open ".*nope\.token"/,
             'a missing token file');
    my $empty = $t->write_file('empty.token', "\n");
    chmod 0600, $empty;
    $check->("token_file=$empty", qr/"chatwoot_send": "token_file=.*empty\.token": the token file is empty/,
             'an empty token file');
    my $open = $t->write_file('open.token', "$TOKEN\n");
    chmod 0644, $open;
    $check->("token_file=$open", qr/"chatwoot_send": "token_file=.*open\.token" has mode 0644: others may read/,
             'a token file others may read');
    $check->('main', qr/"chatwoot_send" needs "token_file=<path>"/, 'no token file at all');
    $check->("token_file=$token_file bogus=1", qr/"chatwoot_send": invalid parameter "bogus=1"/,
             'an unknown argument');
    $check->("token_file=$token_file",
             qr/"chatwoot_send" in .* needs records of \d+ bytes, and the chatwoot_zone of 131072 bytes takes at most \d+; raise "chatwoot_zone size="/,
             'a zone too small for the longest text', 'size=128k');
    $check->("nosuch token_file=$token_file", qr/"chatwoot_send" in .* names unknown chatwoot_inbox "nosuch"/,
             'an inbox that is not there');
}

my ($port, $wa) = $t->start_wa(server => "        location $SEND { chatwoot_send main token_file=$token_file; }\n");
my $p = $t->pair_qr($wa, 'main');
$wa->wait(type => 'passive', conn => $p->{login}{conn});
my $fake = $t->{wa_setup}{fake};

my %auth = (Authorization => "Bearer $TOKEN");
sub api {
    my ($method, $path, %o) = @_;
    my %h = (%{$o{auth} // \%auth}, %{$o{headers} // {}});
    my ($code, $h, $body) = $t->http($port, $method, $path,
                                     defined $o{body} ? (body => $o{body}) : (),
                                     headers => { 'Content-Type' => 'application/json', %h });
    my $json = eval { decode_json($body) };
    return ($code, $h, $json // $body);
}
sub send_ok {
    my ($body, %o) = @_;
    my ($code, $h, $j) = api('POST', $SEND, body => encode_json($body), %o);
    is($code, 202, "a send to $body->{to}: 202") or diag explain $j;
    like($j->{id} // '', qr/^[0-9a-f]{32}$/, 'with an id');
    return wantarray ? ($j->{id}, $h) : $j->{id};
}
sub send_state {
    my ($id) = @_;
    my ($code, undef, $j) = api('GET', "$SEND/$id");
    return $code == 200 ? $j : { code => $code, error => $j };
}
sub wait_settled {
    my ($id, $want) = @_;
    return $t->wait_for(sub {
        my $s = send_state($id);
        ($s->{state} // '') eq $want ? $s : undef;
    }, 30, "send $id $want");
}
sub own_echoes { $t->status->{webhook}{own_echo} }

# --- Authentication.
{
    my ($code, $h, $j) = api('POST', $SEND, body => '{"to":"+4915100000001","text":"x"}', auth => {});
    is($code, 401, 'no token: 401');
    is($h->{'www-authenticate'}, 'Bearer realm="chatwoot_send"', 'with WWW-Authenticate');
    ($code, $h) = api('POST', $SEND, body => '{"to":"+4915100000001","text":"x"}',
                      auth => { Authorization => "Bearer ${TOKEN}x" });
    is($code, 401, 'a wrong token: 401');
    is($h->{'www-authenticate'}, 'Bearer realm="chatwoot_send"', 'with WWW-Authenticate');
    ($code) = api('GET', "$SEND/00000000000000000000000000000000", auth => { Authorization => "Basic $TOKEN" });
    is($code, 401, 'not the Bearer scheme: 401');
}

# --- Methods.
{
    my ($code, $h) = api('GET', $SEND);
    is($code, 405, 'GET on the location: 405');
    is($h->{allow}, 'POST', 'Allow: POST');
    ($code, $h) = api('POST', "$SEND/00000000000000000000000000000000", body => '{}');
    is($code, 405, 'POST on a send: 405');
    is($h->{allow}, 'GET, HEAD', 'Allow: GET, HEAD');
    my $j;
    ($code, undef, $j) = api('GET', "$SEND/00000000000000000000000000000000");
    is($code, 404, 'an id never given out: 404');
    like($j->{error}, qr/no such send: ids are kept for the last 1024 sends/, 'saying so');
    ($code) = api('GET', "$SEND/a/b");
    is($code, 404, 'a deeper path: 404');
}

# --- Bad input: 400 naming the field; 413 over the body limit.
{
    my @bad = (
        ['{"to":"+4915100000001"',                              qr/^malformed JSON at offset/],
        ['{"text":"hi"}',                                      qr/^missing field "to"$/],
        ['{"to":"+4915100000001"}',                            qr/^missing field "text"$/],
        ['{"to":4915100000001,"text":"hi"}',                   qr/^field "to" is not a string$/],
        ['{"to":"4915100000001","text":"hi"}',                 qr/^field "to" is neither a phone number/],
        ['{"to":"x@example.com","text":"hi"}',                 qr/^field "to" is neither/],
        ['{"to":"+4915100000001","text":""}',                  qr/^field "text" is empty$/],
        ['{"to":"+4915100000001","text":["hi"]}',              qr/^field "text" is not a string$/],
        ['{"to":"+4915100000001","text":"' . ('x' x 65537) . '"}', qr/^field "text" is longer than 65536 bytes$/],
        ['{"to":"+4915100000001","text":"hi","from":"me"}',    qr/^unknown field "from"$/],
        ['{"to":"+4915100000001","text":"hi","attachments":"x"}', qr/^field "attachments" is not an array$/],
    );
    for my $b (@bad) {
        my ($code, undef, $j) = api('POST', $SEND, body => $b->[0]);
        is($code, 400, '400 for ' . substr($b->[0], 0, 50));
        like(ref $j ? $j->{error} : $j, $b->[1], '... naming what is wrong');
    }
    my ($code, undef, $j) = api('POST', $SEND, body => '{"to":"+4915100000001","text":"hi"}',
                                headers => { 'Idempotency-Key' => 'k' x 129 });
    is($code, 400, 'an Idempotency-Key over 128 bytes: 400');
    like($j->{error}, qr/Idempotency-Key is longer than 128 bytes/, '... saying so');
    ($code) = api('POST', $SEND, body => '{"to":"+4915100000001","text":"' . ('x' x (300 * 1024)) . '"}');
    is($code, 413, 'a body over 256 KiB: 413');
    is($t->sql(q{SELECT count(*) FROM api_sends})->[0][0], 0, 'nothing refused was queued');
}

# --- A send to a phone number: once on WhatsApp, outgoing in Chatwoot, the echo dropped.
my $ana = $wa->wa_contact('4915100000001', devices => [0], name => 'Ana');
my $since = $wa->last_seq;
my $id = send_ok({ to => '+4915100000001', text => 'Your order 42 shipped' });
my $got = $wa->wait_delivered(to => $ana->{lid}, since => $since, timeout => 30);
is($got->{message}{conversation} // $got->{message}{extendedTextMessage}{text}, 'Your order 42 shipped',
   'the contact reads the text as it was sent, unsigned');
my $s = wait_settled($id, 'sent');
is($s->{wa_id}, $got->{id}, 'GET reports sent with the WhatsApp id the contact got');
ok($s->{chatwoot_message_id}, 'and the Chatwoot message');

my $in_chatwoot = ChatwootTest::FakeChatwoot->messages_by_waid($fake)->{$got->{id}} // [];
is(scalar @$in_chatwoot, 1, 'Chatwoot has the message once, under source_id WAID:<its id>');
my $m = $in_chatwoot->[0];
is($m->{message_type}, 1, 'as outgoing');
is($m->{content}, 'Your order 42 shipped', 'with its text');
is($m->{id}, $s->{chatwoot_message_id}, 'the message GET names');
is($m->{contact}, '4915100000001@s.whatsapp.net', "in the contact's conversation (the chat the live path uses)");

# Chatwoot echoes the message we posted (message_created, source_id WAID:):
# the webhook drops it as ours; the mock still has one message.
my $echoes = own_echoes();
my ($code, undef, $why) = $t->webhook($port, message_created(
    id => $m->{id}, conversation => $m->{conversation}, phone => '+4915100000001',
    content => 'Your order 42 shipped', source_id => "WAID:$got->{id}"));
is($code, 200, 'the echo is answered, as one the bridge leaves alone');
$t->wait_for(sub { own_echoes() == $echoes + 1 }, 10, 'the echo counted as our own');
my $per_device = $wa->deliveries($got->{id});
ok(!grep({ $_ != 1 } values %$per_device), 'each device got it once')
    or diag explain $per_device;
is($wa->deliveries($got->{id})->{$ana->{lid}}, 1, 'the contact got it exactly once');
is($t->sql(q{SELECT count(*) FROM outbox WHERE chatwoot_message_id = ?}, $m->{id})->[0][0], 1,
   'one outbox entry for it');
is(scalar(grep { $_->{to} eq $ana->{lid} } @{$wa->events(type => 'delivered', since => $since)}), 1,
   'nothing else reached the contact');

# --- Idempotency: the same key twice is the same id and one message.
$since = $wa->last_seq;
my ($id1, $h1) = send_ok({ to => '+4915100000001', text => 'Invoice 7 is due' },
                         headers => { 'Idempotency-Key' => 'invoice-7' });
my ($id2, $h2) = send_ok({ to => '+4915100000001', text => 'Invoice 7 is due' },
                         headers => { 'Idempotency-Key' => 'invoice-7' });
is($id2, $id1, 'a repeated Idempotency-Key answers the first id');
is($h2->{'idempotent-replayed'}, 'true', 'and says it is a replay');
my $first = wait_settled($id1, 'sent');
is(scalar(grep { ($_->{message}{conversation} // '') eq 'Invoice 7 is due' && $_->{to} eq $ana->{lid} }
          @{$wa->events(type => 'delivered', since => $since)}), 1, 'one message reached the contact');
is($t->sql(q{SELECT count(*) FROM api_sends WHERE text = 'Invoice 7 is due'})->[0][0], 1,
   'one send was queued');

# --- A helper killed between accept and send: the message goes once.
{
    my ($helper) = @{$t->helper_pids};
    kill 'STOP', $helper or die "STOP: $!";
    $since = $wa->last_seq;
    my $kid = send_ok({ to => '+4915100000001', text => 'Parcel at the door' },
                      headers => { 'Idempotency-Key' => 'parcel-1' });
    is(send_state($kid)->{state}, 'queued', 'queued while the helper cannot take it (from the ring)');
    is(send_ok({ to => '+4915100000001', text => 'Parcel at the door' },
               headers => { 'Idempotency-Key' => 'parcel-1' }), $kid,
       'the key holds before the helper took the send');
    kill 'KILL', $helper or die "KILL: $!";
    $t->wait_for(sub { my $p = $t->helper_pids; @$p == 1 && $p->[0] != $helper }, 15, 'a new helper');
    $t->wait_device('main', 'connected', 30);
    my $ks = wait_settled($kid, 'sent');
    my @got = grep { ($_->{message}{conversation} // '') eq 'Parcel at the door' && $_->{to} eq $ana->{lid} }
        @{$wa->events(type => 'delivered', since => $since)};
    is(scalar @got, 1, 'after the restart the message reached the contact once');
    is($got[0]{id}, $ks->{wa_id}, 'under the id GET names');
    is(scalar @{ChatwootTest::FakeChatwoot->messages_by_waid($fake)->{$ks->{wa_id}} // []}, 1,
       'and is in Chatwoot once');
    is(send_ok({ to => '+4915100000001', text => 'Parcel at the door' },
               headers => { 'Idempotency-Key' => 'parcel-1' }), $kid,
       'the key still answers the first id after the helper restarted');
}

# --- A helper killed while Chatwoot takes the post (slow, and it lands
# after the kill): the next helper finds it there and posts nothing again.
{
    my $bo = $wa->wa_contact('4915100000002', devices => [0], name => 'Bo');
    ChatwootTest::FakeChatwoot->set_faults($fake,
        { method => 'POST', path_regex => '/conversations/\d+/messages$', kind => 'slow',
          delay_ms => 3000, count => 1 });
    $since = $wa->last_seq;
    my $sid = send_ok({ to => '+4915100000002', text => 'Slow lane' });
    my $conversation_made = sub {
        my $st = ChatwootTest::FakeChatwoot->get_state($fake);
        my %bo = map { $_->{id} => 1 } grep { ($_->{identifier} // '') eq '4915100000002@s.whatsapp.net' }
            @{$st->{contacts}};
        grep { $bo{$_->{contact_id}} } @{$st->{conversations}};
    };
    ok($t->kill_helper_busy(
           ready => sub { $conversation_made->() },
           busy => sub { $t->sql(q{SELECT state FROM api_sends WHERE id = ?}, $sid)->[0][0] eq 'posting' },
           what => 'the send being posted'),
       'killed while the post was on its way');
    $t->wait_helper_running(15);
    $t->wait_device('main', 'connected', 30);
    my $ss = wait_settled($sid, 'sent');
    is(scalar @{ChatwootTest::FakeChatwoot->messages_by_waid($fake)->{$ss->{wa_id}} // []}, 1,
       'Chatwoot has it once');
    my @got = grep { $_->{to} eq $bo->{lid} } @{$wa->events(type => 'delivered', since => $since)};
    is(scalar @got, 1, 'the contact got it once');
    is($got[0]{id}, $ss->{wa_id}, 'under the id chosen before the kill');
    ChatwootTest::FakeChatwoot->set_faults($fake);
}

# --- A number the server says is not on WhatsApp: failed with that reason.
{
    my $before = $wa->last_seq;
    my $nid = send_ok({ to => '+4915199999999', text => 'Hello?' });
    my $ns = wait_settled($nid, 'failed');
    is($ns->{reason}, 'this number is not on WhatsApp', 'failed: this number is not on WhatsApp');
    ok(!defined $ns->{wa_id}, 'with no WhatsApp id: nothing was sent');
    my $looked = grep { ($_->{node}{attrs}{xmlns} // '') eq 'usync' }
        @{$wa->events(type => 'received', tag => 'iq', since => $before)};
    ok($looked, 'the number was looked up (usync)');
    my $state = ChatwootTest::FakeChatwoot->get_state($fake);
    is(scalar(grep { ($_->{identifier} // '') =~ /^4915199999999/ || ($_->{phone_number} // '') eq '+4915199999999' }
              @{$state->{contacts}}), 0, 'and no contact was made for it in Chatwoot');
    is($t->sql(q{SELECT count(*) FROM wa_inbound WHERE chat LIKE '4915199999999%'})->[0][0], 0,
       'nor any message filed for it');
}

# --- A restart of nginx loses the zone's keys: the helper's table holds.
{
    my $before = $t->sql(q{SELECT count(*) FROM wa_inbound})->[0][0];
    $t->stop;
    $t->run;
    $t->wait_helper_running(15);
    $t->wait_device('main', 'connected', 30);
    my ($rid) = send_ok({ to => '+4915100000001', text => 'Invoice 7 is due' },
                        headers => { 'Idempotency-Key' => 'invoice-7' });
    isnt($rid, $id1, 'after a restart of nginx the repeated key gets a new id');
    my $rs = wait_settled($rid, 'sent');
    is($rs->{wa_id}, $first->{wa_id}, "whose state is the first send's");
    is($t->sql(q{SELECT count(*) FROM wa_inbound})->[0][0], $before, 'and nothing was sent again');
    is($t->sql(q{SELECT duplicate_of FROM api_sends WHERE id = ?}, $rid)->[0][0], $id1,
       'the helper kept it as a duplicate of the first');
}

unlike($t->read_file('error.log'), qr/\Q$TOKEN\E/, 'the token never reaches the log');

# --- A full queue: 503 with Retry-After; an inbox without a device: failed.
{
    my $q = ChatwootTest->new;
    my $qport = free_port();
    my $qtoken = $q->write_file('send.token', "$TOKEN\n");
    chmod 0600, $qtoken or die "chmod: $!";
    $q->write_config($q->chatwoot_http(port => $qport, zone => 'size=1m queue=2', webhook => 'max_body=24k',
        server => "        location $SEND { chatwoot_send token_file=$qtoken; }\n"))->run;
    my $helper = $q->wait_helper_running->{helper}{pid};
    kill 'STOP', $helper or die "STOP: $!";
    my @ids;
    for my $i (1 .. 2) {
        my ($c, undef, $b) = $q->http($qport, 'POST', $SEND, body => encode_json({ to => '+4915100000001', text => "q$i" }),
                                      headers => { %auth, 'Content-Type' => 'application/json' });
        is($c, 202, "send $i fits the queue of two");
        push @ids, decode_json($b)->{id};
    }
    my ($c, $h, $b) = $q->http($qport, 'POST', $SEND, body => encode_json({ to => '+4915100000001', text => 'q3' }),
                               headers => { %auth, 'Content-Type' => 'application/json' });
    is($c, 503, 'the third answers 503');
    is($h->{'retry-after'}, '1', 'with Retry-After');
    like($b, qr/queue is full/, 'saying why');
    kill 'CONT', $helper or die "CONT: $!";
    for my $sid (@ids) {
        my $st = $q->wait_for(sub {
            my ($code, undef, $body) = $q->http($qport, 'GET', "$SEND/$sid", headers => \%auth);
            my $j = $code == 200 ? decode_json($body) : {};
            ($j->{state} // '') eq 'failed' ? $j : undef;
        }, 15, "send $sid settled");
        is($st->{reason}, 'the inbox "main" has no WhatsApp device', 'an inbox with whatsapp off fails the send');
    }
    $q->stop;
}

$wa->stop;
done_testing;
