# The webhook location: what it accepts goes byte-exact into the store;
# what it refuses gets the right status, a JSON reason, and is never queued.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest qw(free_port);
use Test::More;

my $t = ChatwootTest->new;
my $port = free_port();
$t->write_config($t->chatwoot_http(
    port    => $port,
    webhook => 'max_body=4k',
    # a small buffer so that larger bodies go through a temp file
    server  => 'client_body_buffer_size 1k; client_max_body_size 1m;',
))->run;
$t->wait_helper_running;

sub post { $t->http($port, 'POST', '/chatwoot/webhook', @_) }

my ($code, $h, $body) = post(body => '{"event":"message_created"}');
is($code, 202, 'a body is accepted with 202');
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
($code, undef, $body) = post(body => '');
is($code, 400, 'empty body answers 400');
like($body, qr/"error":"empty body"/, 'and says why');
($code) = $t->http($port, 'POST', '/chatwoot/webhook');
is($code, 400, 'no body at all answers 400');

# Over max_body: told by Content-Length, and found while reading chunks.
($code, undef, $body) = post(body => 'x' x 4097);
is($code, 413, 'Content-Length over max_body answers 413');
like($body, qr/"error":"body too large"/, 'and says why');
($code) = post(body => 'y' x 5000, chunked => 700);
is($code, 413, 'chunked body over max_body answers 413');
($code) = post(body => 'z' x 4096);
is($code, 202, 'a body of exactly max_body is accepted');

# A body nginx buffered to a temp file, and binary bytes, round-trip exactly.
my $binary = join '', map { chr($_ % 256) } 0 .. 3000;
($code) = post(body => $binary, headers => { 'Content-Type' => 'application/octet-stream' });
is($code, 202, 'binary body through a temp file accepted');
($code) = post(body => 'chunked-' x 100, chunked => 128);
is($code, 202, 'chunked body accepted');

$t->wait_for(sub { $t->status->{store}{persisted} == 4 }, 5, 'four persisted');
my $rows = $t->sql('SELECT ring_seq, kind, hex(payload) FROM inbound_events ORDER BY ring_seq');
is_deeply($rows, [
    [1, 1, uc unpack('H*', '{"event":"message_created"}')],
    [2, 1, uc unpack('H*', 'z' x 4096)],
    [3, 1, uc unpack('H*', $binary)],
    [4, 1, uc unpack('H*', 'chunked-' x 100)],
], 'exactly the accepted bodies are stored, byte for byte, in order');

my $s = $t->status;
is($s->{queue}{enqueued}, 4, 'enqueued counts only accepted bodies');
is($s->{queue}{rejected}, 0, 'refused requests never reached the queue');
is($s->{queue}{depth}, 0, 'queue drained');

# The status location takes GET and HEAD only.
($code, $h) = $t->http($port, 'POST', '/chatwoot/status', body => 'x');
is($code, 405, 'POST to status answers 405');
is($h->{allow}, 'GET, HEAD', 'status names its methods');
($code, $h, $body) = $t->http($port, 'HEAD', '/chatwoot/status');
is($code, 200, 'HEAD status answers 200');
is($body, '', 'HEAD has no body');
is($h->{'cache-control'}, 'no-store', 'status is not cached');

# Keep-alive: many requests on one connection.
my $conn = ChatwootTest::Conn->new($port);
my $ok = 0;
for my $i (1 .. 50) {
    my ($c) = $conn->request('POST', '/chatwoot/webhook', body => "{\"k\":$i}");
    $ok++ if $c == 202;
}
is($ok, 50, '50 requests on one keep-alive connection accepted');
$conn->close;
$t->wait_for(sub { $t->status->{store}{persisted} == 54 }, 5, 'all persisted');

$t->finish;
unlike($t->read_file('error.log'), qr/\[(alert|crit)\]/, 'no alert or crit at all');
done_testing;
