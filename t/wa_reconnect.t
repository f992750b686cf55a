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

my $s = { reg => $reg, login => $login, reconnects => $reconnects };
sub comes_back { $t->wa_comes_back($wa, 'main', $s, @_) }

comes_back('stream error 503', sub { $wa->stream_error('503', $_[0]) },
           qr/\[warn\].*inbox "main".*connection lost \(.*503.*reconnecting in \d+ ms/);
comes_back('the socket cut', sub { $wa->drop($_[0]) },
           qr/\[warn\].*inbox "main".*connection lost.*reconnecting in \d+ ms/);

unlike($t->read_file('error.log'), qr/\Q$qr\E/, 'error.log never holds the QR text');
$t->finish;
done_testing;
