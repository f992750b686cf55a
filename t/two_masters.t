# Two nginx masters on one state path, as during a binary upgrade (USR2):
# only one helper is ever active; the other waits, its workers keep queueing,
# and it takes over when the first master goes.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest qw(free_port);
use ChatwootTest::Payloads qw(message_created);
use Test::More;
use Time::HiRes qw(time);

my $a = ChatwootTest->new;
my $b = ChatwootTest->new;
my $state = $a->dir . '/state';
my ($pa, $pb) = (free_port(), free_port());

$a->write_config($a->chatwoot_http(port => $pa))->run;
$a->wait_helper_running;
$b->write_config($b->chatwoot_http(port => $pb, state => $state))->run;

my $sb = $b->wait_for(sub {
    my $s = $b->status;
    $s->{helper}{state} eq 'waiting_for_lock' ? $s : undef;
}, 5, 'second helper waiting');
ok(!$sb->{helper}{active}, 'the second helper is not active');
ok($a->status->{helper}{active}, 'the first helper is active');

# The kernel's view: one process holds the lock, the first helper.
sub lock_holders {
    my @st = stat "$state/helper.lock" or return [];
    my $ino = $st[1];
    open my $fh, '<', '/proc/locks' or return [];
    my @pids;
    while (<$fh>) {
        my @f = split;
        # "1: POSIX ADVISORY WRITE <pid> <maj:min:inode> <start> <end>"
        push @pids, $f[4] if $f[1] eq 'POSIX' && $f[5] =~ /:(\d+)$/ && $1 == $ino;
    }
    return \@pids;
}
is_deeply(lock_holders(), $a->helper_pids, 'only the first helper holds the lock');

# Both masters take webhooks; only the active helper writes the store.
my ($code) = $a->webhook($pa, message_created(id => 1, content => 'to-a'));
is($code, 202, 'first master accepts');
($code) = $b->webhook($pb, message_created(id => 2, content => 'to-b'));
is($code, 202, 'second master accepts while its helper waits');
$a->wait_for(sub { $a->status->{store}{persisted} >= 1 }, 5, 'first persisted');
is($b->status->{queue}{depth}, 1, 'the second master keeps its webhook queued');

# The waiting helper retries the lock on a timer and sleeps in between, so
# each turn of its event loop is one voluntary context switch.  Sampling
# lasts until it has had several turns, each a chance to take the lock,
# rather than for a fixed time.
sub turns {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/status" or die "/proc/$pid/status: $!";
    while (<$fh>) {
        return $1 if /^voluntary_ctxt_switches:\s+(\d+)/;
    }
    die "no voluntary_ctxt_switches in /proc/$pid/status";
}
my ($waiting) = @{$b->helper_pids};
my $turns = turns($waiting);
my ($both, $moved, $samples) = (0, 0, 0);
$b->wait_for(sub {
    $samples++;
    $both++ if $a->status->{helper}{active} && $b->status->{helper}{active};
    $moved++ if $b->status->{queue}{depth} != 1;
    $samples >= 20 && turns($waiting) - $turns >= 4;
}, 10, 'the waiting helper to try the lock again a few times');
is($both, 0, "never two active helpers over $samples samples, while the waiting one tried again");
is($moved, 0, "and the second master's webhook stayed queued");

# The first master leaves (the QUIT after a binary upgrade).
$a->finish;
my $t0 = time;
$sb = $b->wait_helper_running(5);
ok(time - $t0 < 2, sprintf 'the second helper took over in %.2f s', time - $t0);
$b->wait_for(sub { $b->status->{queue}{depth} == 0 }, 5, 'second drained');
is_deeply(lock_holders(), $b->helper_pids, 'now the second helper holds the lock');
is_deeply($b->sql(q{SELECT json_extract(payload, '$.event.content') FROM inbound_events ORDER BY id}),
          [['to-a'], ['to-b']], 'one store holds both, once each');
is($b->status->{store}{persisted}, 2, 'persisted counts the rows of both');

$b->finish;
done_testing;
