# The live session over TLS (wss://) with verification on: the mock's TLS
# listener has a certificate for "localhost" from a test CA.  Trusting that
# CA (whatsapp_server ... ca_file=) the device pairs and logs in.  The same
# server is refused when the CA given is another one, when no CA file is
# given (the system's CAs do not know the test CA), and when the host name
# is not the certificate's (127.0.0.1): each time no WebSocket opens, the
# device says why and keeps trying, and the helper stays up; with the right
# CA again the device logs in with its stored identity.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest;
use ChatwootTest::WaMock;
use Test::More;

my $t = ChatwootTest->new;
my $dir = $t->dir;

# A test CA and a server certificate for localhost signed by it, and an
# unrelated CA.
$t->tls_test_certs(qw(ca other));

my $wa = ChatwootTest::WaMock->start($t, args => ['--tls-cert', "$dir/server.pem", '--tls-key', "$dir/server.key"]);
like($wa->ready->{wss_url}, qr{^wss://localhost:\d+/ws/chat$}, 'the mock listens for wss:// too');
my $good = $wa->directive(tls => 1, ca_file => "$dir/ca.pem");
my ($port) = $t->start_wa(wa => $wa, directive => $good);

my $p = $t->pair_qr($wa, 'main');
is($p->{device}{state}, 'connected', 'over wss:// with the test CA: paired and connected');
$wa->wait(type => 'passive', conn => $p->{login}{conn});
my $helper = $t->status->{helper}{pid};

# The reason names the check that failed: what the operator must fix.
for my $case (
    ['another CA', $wa->directive(tls => 1, ca_file => "$dir/other.pem"),
     qr/unable to get local issuer certificate|unknown ca|self.signed/i],
    ['no CA file (system CAs)', $wa->directive(tls => 1),
     qr/unable to get local issuer certificate|unknown ca|self.signed/i],
    ['another host name', $wa->directive(tls => 1, host => '127.0.0.1', ca_file => "$dir/ca.pem"),
     qr/subject name|host name|127\.0\.0\.1'/i],
) {
    my ($what, $directive, $detail) = @$case;
    $t->wa_write_config(directive => $directive);
    my $since = $wa->last_seq;
    my $lines = $t->log_count(qr/\[warn\].*inbox "main": WhatsApp connection lost/);
    $t->reload;
    my $helper = $t->helper_pids->[0];
    # The old helper's connection goes with it; the new one's TLS fails.
    $t->wait_log(qr/\[warn\].*inbox "main": WhatsApp connection lost/, $lines + 1, 20);
    my $d = $t->wait_device('main', sub { $_[0]{state} eq 'connecting' && ($_[0]{error} // '') =~ /SSL|certificate/ },
                            20, "$what: refused");
    like($d->{error}, qr/SSL certificate problem|certificate/, "$what: a certificate problem");
    like($d->{error}, $detail, "$what: the device says which check failed: $d->{error}");
    is_deeply($wa->events(type => 'connected', since => $since), [], "$what: no WebSocket opened");
    is_deeply($t->helper_pids, [$helper], "$what: the helper stays up");
    is(scalar @{$wa->live_logins}, 0, "$what: no live connection");

    # The test CA again: the stored identity logs in (and the next case
    # starts from a connected device, so its refusal is its own).
    $t->wa_write_config(directive => $good);
    $since = $wa->last_seq;
    $t->reload;
    my $hs = $wa->wait(type => 'handshake', since => $since, timeout => 20);
    is($hs->{client}{kind}, 'login', "after $what, the test CA again: a login");
    is($hs->{client}{noiseKey}, $p->{registration}{client}{noiseKey}, "after $what: with the stored identity");
    $wa->wait(type => 'passive', conn => $hs->{conn}, since => $since);
    $t->wait_device('main', sub { $_[0]{state} eq 'connected' && $_[0]{connected_since} >= int($hs->{at} / 1000) },
                    20, "connected again after $what");
}
is_deeply($wa->events(type => 'duplicate-login'), [], 'never two live connections');
$t->finish;
done_testing;
