# A dead connection that only the keepalive notices: the mock stops
# answering pings, the device's next ping (20-30 s after the login) goes
# unanswered, the device gives up on the connection 10 s later and logs in
# again with the same identity, counting the reconnect.  This takes up to
# 40 s: the keepalive window.
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

# The keepalive: the device pings every 20-30 s and gives up 10 s after an
# unanswered one, so this takes up to 40 s.
my $unanswered;
comes_back('unanswered pings', sub {
    my ($conn, $from) = @_;
    $wa->pings(0);
    $unanswered = $wa->wait(type => 'ping-unanswered', conn => $conn, since => $from, timeout => 35);
    # The next connection is a healthy one.
    $wa->pings(1);
}, qr/\[warn\].*inbox "main".*(?:silent|dead|ping).*reconnect/i);
ok($unanswered, 'unanswered pings: the device pinged and got no answer');
my $closed = $wa->events(type => 'closed', conn => $unanswered->{conn})->[0];
ok($closed->{at} - $unanswered->{at} >= 9_000 && $closed->{at} - $unanswered->{at} <= 12_000,
   sprintf 'unanswered pings: the device gave up %.1f s after the ping', ($closed->{at} - $unanswered->{at}) / 1000);

unlike($t->read_file('error.log'), qr/\Q$qr\E/, 'error.log never holds the QR text');
$t->finish;
done_testing;
