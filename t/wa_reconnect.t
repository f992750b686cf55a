# A connected device whose connection ends for a passing reason comes back
# by itself with the same identity, counting the reconnect: a stream error
# 503 (the server's trouble) and the TCP connection cut without a close
# frame.  (A dead connection only the keepalive notices: wa_keepalive.t.)
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest;
use ChatwootTest::WaMock;
use Test::More;

my $t = ChatwootTest->new;
my ($port, $wa) = $t->start_wa;

my $p = $t->pair_qr($wa, 'main');
my ($reg, $login, $qr) = @$p{qw(registration login qr)};
$wa->wait(type => 'passive', conn => $login->{conn});
my $d = $t->device('main');
my $reconnects = $d->{reconnects};

# Ends the device's connection with $how, then waits for the next login.
sub comes_back {
    my ($what, $how, $log_re) = @_;
    my $from = $wa->last_seq;
    my $old = $login->{conn};
    my $lines = $t->log_count($log_re);
    $how->($old, $from);
    my $closed = $wa->wait(type => 'closed', conn => $old, since => $from, timeout => 45);
    my $hs = $wa->wait(type => 'handshake', since => $closed->{seq}, timeout => 20);
    is($hs->{client}{kind}, 'login', "$what: a login");
    is($hs->{client}{noiseKey}, $reg->{client}{noiseKey}, "$what: with the same keys");
    my $d = $t->wait_device('main', sub { $_[0]{state} eq 'connected' && $_[0]{reconnects} > $reconnects },
                            20, "connected again after $what");
    is($d->{reconnects}, $reconnects + 1, "$what: one reconnect counted");
    $reconnects = $d->{reconnects};
    $wa->wait(type => 'passive', conn => $hs->{conn}, since => $from);
    ok(eval { $t->wait_log($log_re, $lines + 1) }, "$what: the log says so") or diag $@;
    is(scalar @{$wa->events(type => 'handshake', since => $from)}, 1, "$what: one new connection");
    is_deeply($wa->events(type => 'duplicate-login'), [], "$what: never two live connections");
    $login = $hs;
}

comes_back('stream error 503', sub { $wa->stream_error('503', $_[0]) },
           qr/\[warn\].*inbox "main".*connection lost \(.*503.*reconnecting in \d+ ms/);
comes_back('the socket cut', sub { $wa->drop($_[0]) },
           qr/\[warn\].*inbox "main".*connection lost.*reconnecting in \d+ ms/);

unlike($t->read_file('error.log'), qr/\Q$qr\E/, 'error.log never holds the QR text');
$t->finish;
done_testing;
