# A server that misbehaves never takes the helper down: each broken
# certificate chain (wrong root, bad signatures, wrong serial, a leaf for
# another key, out of its validity window, not a chain at all) is refused
# with the reason shown on the device and logged, and the device keeps
# trying (backing off) rather than stopping; a stanza cut into 1-byte
# WebSocket messages and a large (2 MiB) one are read whole.  The same helper runs
# throughout, and once the server behaves again the device connects.
# (Run under ASan by ./build.sh test's sanitizer pass: a report fails it.)
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest;
use ChatwootTest::WaMock;
use MIME::Base64 ();
use Test::More;

my $t = ChatwootTest->new;
my ($port, $wa) = $t->start_wa;
my $p = $t->pair_qr($wa, 'main');
my $conn = $p->{login}{conn};
$wa->wait(type => 'passive', conn => $conn);
my $helper = $t->status->{helper}{pid};

# The first stanza the mock received on `conn` after `since` tagged $tag
# with attribute id $id.
sub answer_to {
    my ($tag, $id, $since) = @_;
    while (1) {
        my $ev = $wa->wait(type => 'received', tag => $tag, conn => $conn, since => $since);
        return $ev if ($ev->{node}{attrs}{id} // '') eq $id;
        $since = $ev->{seq};
    }
}

# Stanzas cut at every byte, and a large one.
my $since = $wa->last_seq;
$wa->send_nodes([{ tag => 'notification', attrs => { id => 'split-1', type => 'devices', from => 's.whatsapp.net',
                                                     t => time . '' }, content => [{ tag => 'devices', attrs => {} }] }],
                split => 1);
is(answer_to('ack', 'split-1', $since)->{node}{attrs}{class}, 'notification', 'a stanza in 1-byte messages: read and acked');
$since = $wa->last_seq;
$wa->send_nodes([{ tag => 'notification', attrs => { id => 'big-1', type => 'devices', from => 's.whatsapp.net',
                                                     t => time . '' },
                   content => [{ tag => 'blob', attrs => {}, content => { b64 => MIME::Base64::encode_base64("\xa5" x (2 << 20), '') } }] }]);
is(answer_to('ack', 'big-1', $since)->{node}{attrs}{class}, 'notification', 'a 2 MiB stanza: read and acked');
is($t->device('main')->{state}, 'connected', 'still connected');

# Each broken chain: refused, shown, logged; the device tries again.  POST
# pair makes a stopped or waiting device connect at once, so the test does
# not wait out the growing backoff.
my %why = (
    'wrong-root'         => qr/intermediate is not signed by the root key/,
    'bad-leaf-signature' => qr/leaf is not signed by the intermediate/,
    'issuer-serial'      => qr/intermediate issuer serial \d+, the root's is 0/,
    'leaf-key-mismatch'  => qr/leaf key is not the server's static key/,
    'expired'            => qr/expired at \d+/,
    'not-yet-valid'      => qr/not valid before \d+/,
    'garbage'            => qr/CertChain: not a valid encoding/,
);
my $first = 1;
for my $variant (sort keys %why) {
    $since = $wa->last_seq;
    $wa->cert($variant);
    if ($first) {
        $wa->drop($conn);
        $first = 0;
    } else {
        my ($code) = $t->device_command('main', 'pair');
        is($code, 202, "$variant: pair to retry now");
    }
    my $d = $t->wait_device('main', sub { ($_[0]{error} // '') =~ $why{$variant} }, 20, "the $variant refusal shown");
    is($d->{state}, 'connecting', "$variant: refused, the device keeps trying");
    like($d->{error}, qr/^protocol error: server hello: certificate chain: /, "$variant: $d->{error}");
    ok(eval { $t->wait_log(qr/\[warn\].*inbox "main": WhatsApp connection lost \(protocol error: .*$why{$variant}.*\); reconnecting in \d+ ms/) },
       "$variant: logged at warn, with the retry") or diag $@;
    is_deeply($wa->events(type => 'handshake', since => $since), [], "$variant: no ClientFinish sent to that server");
    is($t->status->{helper}{pid}, $helper, "$variant: the same helper");
}

# The server behaves again.
$since = $wa->last_seq;
$wa->cert('valid');
$t->device_command('main', 'pair');
my $hs = $wa->wait(type => 'handshake', since => $since, timeout => 20);
is($hs->{client}{kind}, 'login', 'a valid chain again: a login');
$t->wait_device('main', sub { $_[0]{state} eq 'connected' && $_[0]{connected_since} >= int($hs->{at} / 1000) },
                20, 'connected again');
$wa->wait(type => 'passive', conn => $hs->{conn}, since => $since);
is($t->status->{helper}{pid}, $helper, 'the same helper throughout');
is($t->status->{helper}{restarts}, 0, 'which never restarted');
$t->finish;
done_testing;
