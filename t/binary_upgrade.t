# A real binary upgrade, as Debian's package scripts do it: USR2 starts a
# second master on the same sockets and state path, then QUIT ends the old
# one.  Only one helper holds the state path at any time; webhooks accepted
# by either generation are all stored, once.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest qw(free_port);
use ChatwootTest::Payloads qw(message_created);
use Test::More;
use Time::HiRes qw(sleep time);

my $t = ChatwootTest->new(daemon => 1);
my $port = free_port();
$t->write_config($t->chatwoot_http(port => $port))->run;
$t->wait_helper_running;
my $old = $t->master_pid;
my $state = $t->dir . '/state';

my @accepted;
my $next_id = 0;
sub post_some {
    my ($tag, $n) = @_;
    for my $i (1 .. $n) {
        my ($code) = $t->webhook($port, message_created(id => ++$next_id, content => "$tag-$i"));
        push @accepted, "$tag-$i" if $code == 202;
        is($code, 202, "$tag-$i accepted") if $code != 202;
    }
}

sub lock_holders {
    my $ino = (stat "$state/helper.lock")[1];
    open my $fh, '<', '/proc/locks' or return [];
    my @pids;
    while (<$fh>) {
        my @f = split;
        push @pids, $f[4] if $f[1] eq 'POSIX' && $f[5] =~ /:(\d+)$/ && $1 == $ino;
    }
    return [sort @pids];
}

post_some('before', 20);

$t->signal('USR2');
$t->wait_for(sub { -s $t->dir . '/nginx.pid.oldbin' }, 5, 'the old pid file renamed');
my $new = $t->wait_for(sub {
    my $p = $t->read_pid('nginx.pid');
    $p && $p != $old && @{$t->helper_pids($p)} == 1 ? $p : undef;
}, 5, 'the new master and its helper');
my $old_helper = $t->helper_pids($old);
my $new_helper = $t->helper_pids($new);
is(scalar @$old_helper, 1, 'the old master keeps its helper');
like($t->read_file('error.log'), qr/another helper holds .*helper\.lock", waiting for it/,
     'the new helper waits for the lock');
is_deeply(lock_holders(), $old_helper, 'the old helper alone holds the lock');

# Both generations answer on the shared sockets meanwhile.
post_some('overlap', 40);

kill 'QUIT', $old;
$t->wait_for(sub { !kill 0, $old }, 10, 'the old master gone');
$t->set_master($new);
my $t0 = time;
$t->wait_for(sub { my $h = lock_holders(); @$h && $h->[0] == $new_helper->[0] }, 5,
             'the new helper takes the lock');
ok(time - $t0 < 2, sprintf 'took over in %.2f s', time - $t0);

post_some('after', 20);
my $s = $t->wait_for(sub {
    my $st = $t->status;
    $st->{helper}{state} eq 'running' && $st->{queue}{depth} == 0 ? $st : undef;
}, 5, 'the new helper drained');
is($s->{helper}{pid}, $new_helper->[0], 'status shows the new helper');

my $rows = [map { $_->[0] } @{$t->sql(q{SELECT json_extract(payload, '$.event.content') FROM inbound_events ORDER BY id})}];
is(scalar @$rows, 80, 'eighty rows');
is_deeply([sort @$rows], [sort @accepted], 'exactly the accepted webhooks, once each');
is($s->{store}{persisted}, 80, 'persisted counts them all');

$t->finish;
done_testing;
