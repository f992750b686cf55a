# Another connection of this device took over (<stream:error><conflict
# type="replaced"/>): the device stops in the error state saying it was
# replaced, logs why at error level, and does not reconnect by itself (two
# bridges with the same keys would replace each other forever).  Its keys
# stay: the operator's pair command brings it back with the same identity.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest;
use ChatwootTest::WaMock;
use Test::More;

my $t = ChatwootTest->new;
$t->allow_log(qr/\[error\].*inbox "main": WhatsApp connection replaced/);
my ($port, $wa) = $t->start_wa;

my $p = $t->pair_qr($wa, 'main');
my ($d, $reg, $login, $qr) = @$p{qw(device registration login qr)};
$wa->wait(type => 'passive', conn => $login->{conn});
my $reconnects = $d->{reconnects};

my $since = $wa->last_seq;
$wa->stream_error('conflict', $login->{conn});
ok(eval { $t->wait_log(qr/\[error\].*inbox "main".*replaced.*not reconnecting/) },
   'an error line says the connection was replaced and it will not reconnect') or diag $@;
$d = $t->wait_device('main', 'error', 20);
like($d->{error} // '', qr/replaced/, 'state error, saying replaced: ' . ($d->{error} // 'nothing'));
ok(!$d->{connected_since}, 'no longer connected');
ok(defined $d->{pn_jid}, 'its JID still shown: it is still linked');

# No reconnect: the first retry of a lost connection comes within a second
# (backoff 1 s, equal jitter); the state is republished every second.
# Three seconds later the device is still in error, with the same
# reconnects count, and the mock has seen no new connection.
$d = $t->wait_device('main', sub { $_[0]{state_since} && time - $_[0]{state_since} >= 3 }, 10,
                     'in error for 3 s');
is($d->{state}, 'error', 'still in error');
is($d->{reconnects}, $reconnects, 'no reconnect counted');
is_deeply($wa->events(type => 'connected', since => $since), [], 'the mock saw no new connection');
is(scalar @{$wa->live_logins}, 0, 'and holds no live connection of the device');
is($t->sql(q{SELECT count(*) FROM wa_devices WHERE device = 'main' AND pn_jid IS NOT NULL})->[0][0], 1,
   'the keys are kept');

# The operator brings it back: the stored identity logs in.
$since = $wa->last_seq;
my ($code, $j) = $t->device_command('main', 'pair');
is($code, 202, 'pair: 202');
my $hs = $wa->wait(type => 'handshake', since => $since, timeout => 20);
is($hs->{client}{kind}, 'login', 'pair after a conflict: a login, not a registration');
is($hs->{client}{noiseKey}, $reg->{client}{noiseKey}, 'with the same keys');
$d = $t->wait_device('main', 'connected', 20);
ok($d->{connected_since}, 'connected again');
is_deeply($wa->events(type => 'duplicate-login'), [], 'never two live connections of the device');

unlike($t->read_file('error.log'), qr/\Q$qr\E/, 'error.log never holds the QR text');
$t->finish;
done_testing;
