# A paired live device across the ways its helper goes away: kill -9 (the
# master respawns it), reload (HUP: a new helper replaces the old one) and a
# binary upgrade (USR2, then QUIT to the old master).  Each time the next
# helper logs in with the stored identity (same number, device and noise
# key; no registration, no pairing) and the mock never sees two live
# connections of the device at once.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest;
use ChatwootTest::WaMock;
use Test::More;

# nginx ignores USR2 unless the master was daemonized.
my $t = ChatwootTest->new(daemon => 1);
$t->allow_log(qr/cache manager process \d+ exited on signal 9/);
my ($port, $wa) = $t->start_wa;

my $p = $t->pair_qr($wa, 'main');
my ($reg, $first, $qr) = @$p{qw(registration login qr)};
is($reg->{client}{kind}, 'registration', 'paired: it registered');
$wa->wait(type => 'passive', conn => $first->{conn});
my ($user, $dev) = $p->{sent}{jid} =~ /^(\d+):(\d+)@/;
my $pn = $p->{device}{pn_jid};

# After $what, from mock event $from on: one login of the same device, with
# the same keys, and connected again; no registration, no second live
# connection.  Returns the login's handshake event.
sub logs_in_again {
    my ($what, $from, $old_conn) = @_;
    my $hs = $wa->wait(type => 'handshake', since => $from, timeout => 30);
    is($hs->{client}{kind}, 'login', "$what: a login");
    is_deeply([$hs->{client}{username}, $hs->{client}{device}], [$user, $dev],
              "$what: as the same number and device");
    is($hs->{client}{noiseKey}, $reg->{client}{noiseKey}, "$what: with the same noise key");
    $wa->wait(type => 'passive', conn => $hs->{conn}, since => $from);
    # Connected since this login (not what the helper before it published).
    my $d = $t->wait_device('main', sub { $_[0]{state} eq 'connected'
                                          && $_[0]{connected_since} >= int($hs->{at} / 1000) },
                            30, "connected after $what");
    is($d->{pn_jid}, $pn, "$what: the same phone-number JID");
    my @kinds = map { $_->{client}{kind} } @{$wa->events(since => $from, type => 'handshake')};
    is_deeply(\@kinds, ['login'], "$what: one handshake, a login");
    is_deeply($wa->events(type => 'paired', since => $from), [], "$what: no pairing");
    my $old = grep { $_->{conn} == $old_conn && $_->{state} ne 'closed' } @{$wa->connections};
    ok(!$old, "$what: the old connection is closed");
    is_deeply($wa->events(type => 'duplicate-login'), [], "$what: never two live connections of the device");
    is(scalar @{$wa->live_logins}, 1, "$what: one live connection");
    return $hs;
}

# kill -9 of the helper.
my $helper = $t->status->{helper}{pid};
my $from = $wa->last_seq;
kill 'KILL', $helper or die "kill $helper: $!";
my $closed = $wa->wait(type => 'closed', conn => $first->{conn}, since => $from);
ok($closed, 'kill -9: the dead helper\'s connection closes');
my $hs = logs_in_again('kill -9', $from, $first->{conn});
my $s = $t->wait_helper_running;
isnt($s->{helper}{pid}, $helper, 'kill -9: a new helper');
cmp_ok($closed->{seq}, '<', $hs->{seq}, 'kill -9: the old connection ended before the new login');

# Reload: the old helper leaves, the new one takes the lock and logs in.
$from = $wa->last_seq;
my $old_conn = $hs->{conn};
$t->reload;
$hs = logs_in_again('reload', $from, $old_conn);
$closed = $wa->events(type => 'closed', conn => $old_conn, since => $from)->[0];
ok($closed && $closed->{seq} < $hs->{seq}, 'reload: the old connection ended before the new login');

# Binary upgrade: a second master whose helper waits for the lock while the
# old one keeps the session; then QUIT to the old master.
$from = $wa->last_seq;
$old_conn = $hs->{conn};
my $old_master = $t->master_pid;
$t->signal('USR2');
my $new_master = $t->wait_for(sub {
    my $p = $t->read_pid('nginx.pid');
    $p && $p != $old_master && @{$t->helper_pids($p)} == 1 ? $p : undef;
}, 10, 'the new master and its helper');
$t->wait_log(qr/another helper holds .*helper\.lock", waiting for it/);
is_deeply($wa->events(type => 'handshake', since => $from), [],
          'binary upgrade: the waiting helper does not connect');
is(scalar @{$wa->live_logins}, 1, 'binary upgrade: the old helper keeps the one connection');
kill 'QUIT', $old_master;
$t->wait_for(sub { !kill 0, $old_master }, 15, 'the old master gone');
$t->set_master($new_master);
$hs = logs_in_again('binary upgrade', $from, $old_conn);
$closed = $wa->events(type => 'closed', conn => $old_conn, since => $from)->[0];
ok($closed && $closed->{seq} < $hs->{seq}, 'binary upgrade: the old connection ended before the new login');

is_deeply([grep { $_->{client}{kind} ne 'login' } @{$wa->events(since => $first->{seq} - 1, type => 'handshake')}],
          [], 'no registration in the whole run');
unlike($t->read_file('error.log'), qr/\Q$qr\E/, 'error.log never holds the QR text');
$t->finish;
done_testing;
