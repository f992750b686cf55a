# The helper process: spawned by the master with its own title, running as
# the worker user, respawned after a crash with its restart counted, replaced
# on reload with the queue and counters kept, and backing off when it dies
# young again and again.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest qw(free_port);
use ChatwootTest::Payloads qw(message_created);
use Test::More;
use Time::HiRes qw(sleep time);

my $t = ChatwootTest->new;
my $port = free_port();
$t->write_config($t->chatwoot_http(port => $port))->run;

my $s = $t->wait_helper_running;
my $helpers = $t->helper_pids;
is(scalar @$helpers, 1, 'exactly one helper process');
is($s->{helper}{pid}, $helpers->[0], 'status names the helper pid');
is($s->{helper}{restarts}, 0, 'no restart yet');
ok($s->{helper}{active}, 'helper is active');
ok(abs($s->{helper}{started_at} - time) < 10, 'started_at is now');
if (defined(my $user = ChatwootTest::worker_user())) {
    is(ChatwootTest::uid_of($helpers->[0]), (getpwnam $user)[2],
       "helper runs as $user");
}
ok(-f $t->dir . '/state/chatwoot.db', 'store created in the state path');
ok(-f $t->dir . '/state/helper.lock', 'lock file in the state path');

# A message queued before the crash must still be stored after it.
my ($code) = $t->webhook($port, message_created(id => 1, content => 'n1'));
is($code, 202, 'webhook accepted');
$t->wait_for(sub { $t->status->{store}{persisted} == 1 }, 5, 'persisted');

# kill -9: the master respawns, the new helper counts the restart.
$t->allow_log(qr/cache manager process \d+ exited on signal 9/);
my $old = $helpers->[0];
kill 'KILL', $old;
my $t0 = time;
$s = $t->wait_for(sub {
    my $st = $t->status;
    $st->{helper}{pid} != $old && $st->{helper}{state} eq 'running' ? $st : undef;
}, 2, 'a new helper within 2 s');
ok(time - $t0 < 2, sprintf 'respawned and running in %.2f s', time - $t0);
is($s->{helper}{restarts}, 1, 'restarts grew to 1');
is_deeply($t->helper_pids, [$s->{helper}{pid}], 'one helper, the new one');
is($s->{store}{persisted}, 1, 'persisted counts the rows already stored');

# Dying young again and again: the helper waits longer each time, and
# status says so.
for my $round (2 .. 4) {
    my $pid = $t->status->{helper}{pid};
    kill 'KILL', $pid;
    $s = $t->wait_for(sub {
        my $st = $t->status;
        $st->{helper}{pid} != $pid ? $st : undef;
    }, 5, 'respawn');
}
ok($s->{helper}{crash_backoff} >= 3, "crash_backoff counts young crashes ($s->{helper}{crash_backoff})");
like($t->new_log, qr/previous helper crashed young, waiting \d+ ms/, 'backoff logged');
$s = $t->wait_helper_running(10);
is($s->{helper}{restarts}, 4, 'every crash counted');

# Reload: a new helper, the zone (queue, counters) kept.
($code) = $t->webhook($port, message_created(id => 2, content => 'n2'));
is($code, 202, 'webhook accepted before reload');
my $before = $t->helper_pids->[0];
$t->reload;
$s = $t->wait_for(sub {
    my $st = $t->status;
    $st->{helper}{pid} != $before && $st->{helper}{state} eq 'running' ? $st : undef;
}, 5, 'the new helper running');
isnt($s->{helper}{pid}, $before, 'reload brought a new helper');
is($s->{helper}{restarts}, 5, 'the reload counts as a start');
is($s->{helper}{crash_backoff}, 0, 'a reload is not a crash');
$t->wait_for(sub { $t->status->{store}{persisted} == 2 }, 5, 'both persisted');
is($t->status->{queue}{enqueued}, 2, 'queue counters survive the reload');
is_deeply($t->sql(q{SELECT json_extract(payload, '$.event.content') FROM inbound_events ORDER BY id}),
          [['n1'], ['n2']], 'rows are the agent replies, in order');

$t->finish;
done_testing;
