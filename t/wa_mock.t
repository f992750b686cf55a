# The harness for the loopback WhatsApp server (ChatwootTest::WaMock), on
# its own, before any test leans on it: the mock starts as the test's child
# and says where it listens, every control action is wrapped and answers,
# refusals come back with the mock's reason, events are recorded and waited
# for, WebSocket connections show in `connections` and can be dropped, and
# the mock is gone once the test stops it or lets go of it.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest;
use ChatwootTest::WaMock;
use IO::Socket::INET;
use IO::Select;
use Test::More;
use Time::HiRes qw(time);

my $t = ChatwootTest->new;
my $wa = ChatwootTest::WaMock->start($t);

like($wa->url, qr{^ws://127\.0\.0\.1:\d+/ws/chat$}, 'ready: the WebSocket URL');
like($wa->root_key, qr/^[0-9a-f]{64}$/, 'ready: the root key, 64 hex digits');
is($wa->directive, 'whatsapp_server ' . $wa->url . ' root_key=' . $wa->root_key . ';',
   'the whatsapp_server directive for it');
ok(kill(0, $wa->pid), 'the mock runs as our child');

is($wa->last_seq, 0, 'no event yet');
is_deeply($wa->connections, [], 'no connection yet');
my $t0 = time;
is($wa->try_wait(type => 'connected', timeout => 0.3), undef, 'a wait for what does not happen ends empty');
ok(time - $t0 >= 0.25, 'after the timeout given');
ok(!eval { $wa->wait(type => 'connected', timeout => 0.2); 1 }, 'wait fails the test instead');
like($@, qr/no WhatsApp mock event .*"type":"connected"/, 'naming the event it waited for');

# A long poll is answered when the event happens, not at its timeout: the
# wait goes out first, then the event is made (a fetch of the page).
{
    my $since = $wa->last_seq;
    my $poll = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $wa->port, Timeout => 5) or die $!;
    print {$poll} "GET /control/wait?since=$since&type=version-page&timeout=20000 HTTP/1.1\r\n"
        . "Host: 127.0.0.1\r\nConnection: close\r\n\r\n";
    my $t1 = time;
    $t->http($wa->port, 'GET', '/');
    my $answer = do { local $/; <$poll> };
    like($answer, qr{^HTTP/1\.1 200 .*"type":"version-page"}s, 'a long poll is answered with the event');
    ok(time - $t1 < 10, sprintf 'as it happens (%.2f s), not at the timeout', time - $t1);
}

# Actions that need no connection.
is($wa->pings(0)->{answer}, JSON::PP::false, 'pings off');
is($wa->pings(1)->{answer}, JSON::PP::true, 'pings on');
is($wa->login_answer(405)->{failure}, 405, 'logins answered 405 from now on');
is($wa->login_answer(undef)->{failure}, undef, 'logins answered <success> again');
my $v = $wa->version(current => '2.3000.1030000001', enforce => 1);
is_deeply($v, { current => '2.3000.1030000001', enforce => JSON::PP::true }, 'version enforced');
my ($code, undef, $page) = $t->http($wa->port, 'GET', '/');
is($code, 200, 'the web client page');
like($page, qr/"client_revision":1030000001\b/, 'names the current client revision');
my $ev = $wa->wait(type => 'version-page', since => $wa->events(type => 'version-page')->[0]{seq});
is($ev->{revision}, 1030000001, 'the page fetch is an event');
$wa->version(enforce => 0);
is($wa->cert('expired')->{variant}, 'expired', 'a broken certificate chain from now on');
is($wa->cert('valid')->{variant}, 'valid', 'a valid one again');
my $acct = $wa->account('15550001111', passkey => 1);
like($acct->{passkey}{credential_id}, qr/^[A-Za-z0-9_-]+$/, 'a passkey-gated account, with its credential');
ok($acct->{passkey}{private_jwk}, 'and the key for a software authenticator');

# Refusals: the status and the mock's reason.
my $j;
($code, $j) = $wa->control('stream-error', { code => '401' });
is($code, 409, 'a stream error with no connection: 409');
like($j->{error}, qr/no connection past its handshake/, 'says why');
($code) = $wa->control('stream-error', { code => '999' });
is($code, 400, 'an unknown stream error code: 400');
($code) = $wa->control('cert', { variant => 'nonsense' });
is($code, 400, 'an unknown certificate variant: 400');
($code, $j) = $wa->control('scan', { qr => 'not a QR' });
is($code, 400, 'a scan of something that is not a QR: 400');
($code) = $wa->control('enter-code', { code => 'ABCD-EFGH' });
is($code, 409, 'a code with no connection waiting for one: 409');
($code) = $wa->control('send', { node => { tag => 'iq', attrs => {} } });
is($code, 409, 'a stanza with no connection past its handshake: 409');
($code) = $wa->control('failure', { reason => 405 });
is($code, 409, 'a failure with no connection: 409');
ok(!eval { $wa->raw('stream', hex => '00'); 1 }, 'raw bytes with no connection: refused');
like($@, qr/answered 409 to raw/, 'with 409');
ok(!eval { $wa->raw('nowhere', hex => '00'); 1 }, 'raw bytes at no layer: refused');
like($@, qr/answered 400 to raw: layer: one of/, 'with 400 and the layers');
ok(!eval { $wa->drop; 1 }, 'the wrappers fail on a refusal');
like($@, qr/answered 409 to drop: no connection open/, 'with the status and the reason');

# WebSocket connections, by hand (the upgrade and one masked frame).
sub ws_open {
    my (%o) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1:' . $wa->port, Timeout => 5)
        or die "connect: $!";
    print {$s} "GET /ws/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        . "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        . "Sec-WebSocket-Version: 13\r\nOrigin: " . ($o{origin} // 'https://web.whatsapp.com')
        . "\r\n\r\n";
    my $head = '';
    my $sel = IO::Select->new($s);
    while ($head !~ /\r\n\r\n/ && $sel->can_read(5)) {
        sysread($s, $head, 1024, length $head) or last;
    }
    return ($s, $head);
}
# Whether the peer closed $s (EOF or reset) within 5 s.
sub peer_closed {
    my ($s) = @_;
    my $sel = IO::Select->new($s);
    while ($sel->can_read(5)) {
        my $n = sysread $s, my $buf, 4096;
        return 1 unless $n;
    }
    return 0;
}

my $since = $wa->last_seq;
my ($s1, $head) = ws_open();
like($head, qr{^HTTP/1\.1 101 }, 'a WebSocket upgrade: 101');
my $c1 = $wa->wait(type => 'connected', since => $since);
ok($c1->{conn}, "the connection is an event (conn $c1->{conn})");
my ($row) = grep { $_->{conn} == $c1->{conn} } @{$wa->connections};
is($row->{state}, 'hello', 'connections: it waits for the client hello');
is_deeply($wa->live_logins, [], 'it is no logged-in device');

is($wa->drop($c1->{conn})->{conn}, $c1->{conn}, 'drop that connection');
ok(peer_closed($s1), 'the socket is cut');
my $closed = $wa->wait(type => 'closed', conn => $c1->{conn}, since => $since);
ok($closed, 'and its end is an event');

my ($s2) = ws_open();
my $c2 = $wa->wait(type => 'connected', since => $closed->{seq});
# A masked text frame "hi": the mock speaks binary only.
print {$s2} "\x81\x82" . "\x01\x02\x03\x04" . ("hi" ^ "\x01\x02");
my $refused = $wa->wait(type => 'refused', conn => $c2->{conn}, since => $since);
is($refused->{reason}, 'a text WebSocket message (only binary is spoken)', 'a text frame is refused, with the reason');
ok(peer_closed($s2), 'and the socket cut');

my ($s3, $head3) = ws_open(origin => 'https://example.com');
like($head3, qr{^HTTP/1\.1 403 }, 'another Origin: 403');
$ev = $wa->wait(type => 'refused', since => $refused->{seq});
like($ev->{reason}, qr/^Origin "https:\/\/example\.com" is not/, 'refused with the reason');

my $all = $wa->events(since => $since);
is_deeply([map { $_->{type} } @$all], [qw(connected closed connected refused closed refused)],
          'events: everything since a seq, in order')
    or diag explain $all;
is_deeply([map { $_->{type} } @{$wa->events(since => $since, type => 'refused')}],
          [qw(refused refused)], 'events: filtered by type');
is(scalar @{$wa->events(since => $since, conn => $c2->{conn})}, 3, 'events: filtered by connection');

like($wa->log_text, qr/refused: a text WebSocket message/, 'the mock log says what it refused');

# Stopping: explicitly, and by letting go of it.  (The mock's TERM handler
# waits for the sockets its HTTP server still holds: ours go first.)
close $_ for $s1, $s2, $s3;
my $pid = $wa->pid;
my $port = $wa->port;
$t0 = time;
$wa->stop;
ok(!kill(0, $pid), 'stop: the mock is gone');
ok(time - $t0 < 4, sprintf 'stop: on TERM, in %.2f s', time - $t0);
ok(!IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port", Timeout => 1), 'stop: its port is closed');
{
    my $other = ChatwootTest::WaMock->start($t);
    $pid = $other->pid;
    isnt($other->port, $port, 'a second mock listens on a port of its own');
}
ok(!kill(0, $pid), 'a mock the test lets go of is stopped');
is_deeply($t->{daemons}, [], 'and no longer among the test\'s daemons');

$t->finish;
done_testing;
