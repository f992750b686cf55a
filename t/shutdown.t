# A graceful stop while a webhook is still arriving: the helper leaves at
# once (nginx gives it no say), so the worker finishing that request must not
# answer 202 for something nobody will ever store.  It answers 503 (Chatwoot
# marks the message failed and the agent sees it) and stores nothing.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest qw(free_port);
use ChatwootTest::Payloads qw(message_created);
use Digest::SHA qw(hmac_sha256_hex);
use IO::Socket::INET;
use Test::More;

my $t = ChatwootTest->new;
my $port = free_port();
$t->write_config($t->chatwoot_http(port => $port))->run;
my $s = $t->wait_helper_running;
my ($code) = $t->webhook($port, message_created(id => 1, content => 'before-stop'));
is($code, 202, 'a webhook before the stop is accepted');
$t->wait_for(sub { $t->status->{store}{persisted} == 1 }, 5, 'persisted');

# Half a request: headers and part of the body.
my $body = message_created(id => 2, content => 'late');
my $ts = time;
my $sock = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port") or die $!;
$sock->autoflush(1);
print {$sock} "POST /chatwoot/webhook HTTP/1.1\r\nHost: localhost\r\n"
    . "Content-Type: application/json\r\nX-Chatwoot-Timestamp: $ts\r\n"
    . 'X-Chatwoot-Signature: sha256=' . hmac_sha256_hex("$ts.$body", 'test-webhook-secret') . "\r\n"
    . 'Content-Length: ' . length($body) . "\r\n\r\n" . substr($body, 0, 20);
# The worker has it (headers parsed, reading the body) before the stop.
$t->wait_server_read($sock);

my $helper = $s->{helper}{pid};
$t->signal('QUIT');
$t->wait_for(sub { !kill 0, $helper }, 5, 'the helper gone');
like($t->read_file('error.log'), qr/chatwoot helper exiting/, 'the helper left through exit');

print {$sock} substr($body, 20);
my $answer = '';
while (my $line = <$sock>) {
    $answer .= $line;
}
like($answer, qr{^HTTP/1\.1 503 }, 'the late webhook is refused with 503');
like($answer, qr/Retry-After: 1/, 'with Retry-After');
like($answer, qr/"error":"shutting down"/, 'saying why');
close $sock;
$t->stop;

is_deeply($t->sql(q{SELECT json_extract(payload, '$.event.content') FROM inbound_events}), [['before-stop']],
          'only the accepted webhook is stored');

$t->run;
$s = $t->wait_helper_running;
($code) = $t->webhook($port, message_created(id => 3, content => 'after-restart'));
is($code, 202, 'a new nginx accepts again');
$t->wait_for(sub { $t->status->{store}{persisted} == 2 }, 5, 'persisted');

$t->finish;
done_testing;
