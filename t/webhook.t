# The webhook location as a transport: what it accepts goes into the store
# as the normalised event; methods, empty and oversize bodies are refused
# with the right status before anything else happens.  (Authentication and
# event parsing: webhook_auth.t.)
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest qw(free_port);
use ChatwootTest::Payloads qw(message_created);
use JSON::PP;
use Test::More;

my $t = ChatwootTest->new;
my $port = free_port();
$t->write_config($t->chatwoot_http(
    port    => $port,
    webhook => 'max_body=8k',
    # a small buffer so that larger bodies go through a temp file
    server  => 'client_body_buffer_size 1k; client_max_body_size 1m;',
))->run;
$t->wait_helper_running;

my ($code, $h, $body) = $t->webhook($port, message_created(id => 1, content => 'first'));
is($code, 202, 'a signed agent reply is accepted with 202');
is($h->{'content-type'}, 'application/json', 'answer is JSON');
like($body, qr/^\{"queued":true,"seq":1\}$/, 'answer names the sequence number');

# Wrong methods.
for my $m (qw(GET PUT DELETE)) {
    ($code, $h, $body) = $t->http($port, $m, '/chatwoot/webhook',
                                  $m eq 'PUT' ? (body => 'x') : ());
    is($code, 405, "$m answers 405");
    is($h->{allow}, 'POST', "$m names the allowed method");
}
($code, $h) = $t->http($port, 'HEAD', '/chatwoot/webhook');
is($code, 405, 'HEAD answers 405');

# Empty bodies, with and without Content-Length.
($code, undef, $body) = $t->webhook($port, '');
is($code, 400, 'empty body answers 400');
like($body, qr/"error":"empty body"/, 'and says why');
($code) = $t->http($port, 'POST', '/chatwoot/webhook');
is($code, 400, 'no body at all answers 400');
is($t->status->{webhook}{malformed}, 2, 'both are counted as webhook.malformed');

# Over max_body: told by Content-Length, and found while reading chunks.
my $too_big = message_created(id => 2, content => 'x' x 9000);
($code, undef, $body) = $t->webhook($port, $too_big);
is($code, 413, 'Content-Length over max_body answers 413');
like($body, qr/"error":"body too large"/, 'and says why');
($code) = $t->http($port, 'POST', '/chatwoot/webhook', body => $too_big, chunked => 700,
                   headers => { 'Content-Type' => 'application/json' });
is($code, 413, 'chunked body over max_body answers 413');

# A body nginx buffered to a temp file, and a chunked one, arrive whole.
my $long = join '', map { chr(0x41 + $_ % 26) } 0 .. 5000;
($code) = $t->webhook($port, message_created(id => 3, content => $long));
is($code, 202, 'a body buffered to a temp file is accepted');
my $chunked = message_created(id => 4, content => 'chunked');
($code) = $t->webhook($port, $chunked, conn => do {
    # send this one chunked through a connection of our own
    my $c = ChatwootTest::Conn->new($port);
    bless { c => $c }, 'ChunkedConn';
});
is($code, 202, 'a chunked body is accepted');

$t->wait_for(sub { $t->status->{store}{persisted} == 3 }, 5, 'three persisted');
my $rows = $t->sql(q{SELECT ring_seq, kind, json_extract(payload, '$.event.message_id'),
                            json_extract(payload, '$.event.content') FROM inbound_events ORDER BY ring_seq});
is_deeply($rows, [[1, 1, 1, 'first'], [2, 1, 3, $long], [3, 1, 4, 'chunked']],
          'exactly the accepted events are stored, whole, in order');

my $record = decode_json($t->sql('SELECT payload FROM inbound_events WHERE ring_seq = 1')->[0][0]);
is($record->{inbox}, 'main', 'the record names its inbox');
like($record->{delivery}, qr/^[0-9a-f-]{36}$/, 'and the delivery id');
is($record->{event}{type}, 'send', 'and says what to do');
is($record->{event}{conversation_id}, 15, 'for which conversation');

my $s = $t->status;
is($s->{queue}{enqueued}, 3, 'enqueued counts only accepted bodies');
is($s->{queue}{rejected}, 0, 'refused requests never reached the queue');
is($s->{webhook}{queued}, 3, 'webhook.queued counts them too');
is($s->{queue}{depth}, 0, 'queue drained');

# The status location takes GET and HEAD only.
($code, $h) = $t->http($port, 'POST', '/chatwoot/status', body => 'x');
is($code, 405, 'POST to status answers 405');
is($h->{allow}, 'GET, HEAD', 'status names its methods');
($code, $h, $body) = $t->http($port, 'HEAD', '/chatwoot/status');
is($code, 200, 'HEAD status answers 200');
is($body, '', 'HEAD has no body');
is($h->{'cache-control'}, 'no-store', 'status is not cached');
(undef, undef, $body) = $t->http($port, 'GET', '/chatwoot/status');
unlike($body, qr/test-webhook-secret|test-api-token/, 'status shows no secret');

# Keep-alive: many requests on one connection.
my $conn = ChatwootTest::Conn->new($port);
my $ok = 0;
for my $i (1 .. 50) {
    my ($c) = $t->webhook($port, message_created(id => 100 + $i), conn => $conn);
    $ok++ if $c == 202;
}
is($ok, 50, '50 requests on one keep-alive connection accepted');
$conn->close;
$t->wait_for(sub { $t->status->{store}{persisted} == 53 }, 5, 'all persisted');

$t->finish;
unlike($t->read_file('error.log'), qr/\[(alert|crit)\]/, 'no alert or crit at all');
unlike($t->read_file('error.log'), qr/test-webhook-secret|test-api-token/, 'no secret in the log');
done_testing;

package ChunkedConn;
sub request {
    my ($self, @args) = @_;
    return $self->{c}->request(@args, chunked => 100);
}
