# Reconnecting backs off: a device whose connection is lost while the
# server keeps refusing logins for a passing reason (<failure reason="503">)
# tries again after 1 s, 2 s, 4 s (each step halved at most by the jitter),
# waits that long each time, shows "connecting" with the reason meanwhile,
# and connects once the server takes logins again.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest;
use ChatwootTest::WaMock;
use Test::More;

my $t = ChatwootTest->new;
my ($port, $wa) = $t->start_wa;
my $p = $t->pair_qr($wa, 'main');
$wa->wait(type => 'passive', conn => $p->{login}{conn});

my $re = qr/\[warn\].*inbox "main": WhatsApp connection lost \(.*?\); reconnecting in \d+ ms/;
my $fields = qr/\[warn\].*inbox "main": WhatsApp connection lost \((.*?)\); reconnecting in (\d+) ms/;
my $before = $t->log_count($re);
my $since = $wa->last_seq;
$wa->login_answer(503);
$wa->drop($p->{login}{conn});
my $d = $t->wait_device('main', sub { $_[0]{state} eq 'connecting' && ($_[0]{error} // '') =~ /503/ }, 20,
                        'connecting, with the 503 as the reason');
like($d->{error}, qr/transient 503/, "while it backs off, the device says why: $d->{error}");
$t->wait_log($re, $before + 3, 20);
$wa->login_answer(undef);
my @lines = ($t->read_file('error.log') =~ /$fields/g)[2 * $before .. 2 * $before + 5];
my @delays = @lines[1, 3, 5];
like($lines[0], qr/connection_lost/, 'first the lost connection');
like($lines[$_], qr/transient 503/, 'then the refused login') for 2, 4;
my @steps = (1000, 2000, 4000);
for my $i (0 .. 2) {
    ok($delays[$i] >= $steps[$i] / 2 && $delays[$i] <= $steps[$i],
       "retry $i after $delays[$i] ms: within [$steps[$i]/2, $steps[$i]]");
}

# The mock saw the waits: each login came no sooner than its delay after
# the connection before it closed.
$t->wait_device('main', sub { $_[0]{state} eq 'connected' && $_[0]{reconnects} == 3 }, 20,
                'connected after three retries');
my @logins = @{$wa->events(type => 'handshake', since => $since)};
my @closed = @{$wa->events(type => 'closed', since => $since)};
is(scalar @logins, 3, 'three logins: two refused, the last taken');
is_deeply([map { $_->{node}{attrs}{reason} } @{$wa->events(type => 'sent', tag => 'failure', since => $since)}],
          ['503', '503'], 'the mock refused two with 503');
for my $i (0 .. 2) {
    my $gap = $logins[$i]{at} - $closed[$i]{at};
    # The mock stamps the connection's close, the helper counts from when it
    # noticed: a few ms of slack.
    ok($gap >= $delays[$i] - 50, "login $i came $gap ms after the close (delay $delays[$i] ms)");
}
$wa->wait(type => 'passive', conn => $logins[-1]{conn}, since => $since);
is($t->device('main')->{state}, 'connected', 'connected');
is_deeply($wa->events(type => 'duplicate-login'), [], 'never two live connections');
$t->finish;
done_testing;
