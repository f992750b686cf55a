# A device waiting for its QR to be scanned, across a reload and a kill -9
# of the helper: the next helper registers again with the keys made before
# the first QR (the same noise and identity keys in its QR, new refs), only
# after the old registration connection has ended, and its QR pairs.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest;
use ChatwootTest::WaMock;
use Test::More;

my $t = ChatwootTest->new;
$t->allow_log(qr/cache manager process \d+ exited on signal 9/);
my ($port, $wa) = $t->start_wa;

# The QR's fields: ref, noise key, identity key, adv secret.
sub fields { my ($qr) = @_; return [$qr =~ /#([^,]+),([^,]+),([^,]+),([^,]+)/] }

my $qr = $t->wait_qr('main');
my $reg = $wa->events(type => 'handshake')->[-1];
is($reg->{client}{kind}, 'registration', 'a device with no keys registers');
my @qrs = ($qr);

for my $case (['reload', sub { $t->reload }],
              ['kill -9', sub {
                   my $helper = $t->helper_pids->[0];
                   kill 'KILL', $helper or die "kill $helper: $!";
                   $t->wait_for(sub { my $h = $t->helper_pids; @$h == 1 && $h->[0] != $helper }, 10, 'a new helper');
               }]) {
    my ($what, $do) = @$case;
    my $since = $wa->last_seq;
    my $old = $reg->{conn};
    $do->();
    my $closed = $wa->wait(type => 'closed', conn => $old, since => $since, timeout => 20);
    $reg = $wa->wait(type => 'handshake', since => $since, timeout => 20);
    is($reg->{client}{kind}, 'registration', "$what: the next helper registers");
    my ($connected) = grep { $_->{conn} == $reg->{conn} } @{$wa->events(type => 'connected', since => $since)};
    ok($connected && $closed->{seq} < $connected->{seq}, "$what: after the old registration connection ended");
    is($reg->{client}{identity}, $wa->events(type => 'handshake')->[0]{client}{identity}, "$what: with the same identity key");
    is($reg->{client}{noiseKey}, $wa->events(type => 'handshake')->[0]{client}{noiseKey}, "$what: and noise key");
    # The QR of the new connection (the old helper's may still be in the
    # snapshot until the new one publishes).
    my $new = $t->wait_for(sub {
        my $q = eval { $t->wait_qr('main', 5) } or return;
        my $f = fields($q);
        $f->[0] ne fields($qrs[-1])->[0] ? $q : undef;
    }, 20, "$what: a QR with new refs");
    is_deeply([@{fields($new)}[1, 2]], [@{fields($qrs[0])}[1, 2]], "$what: its QR shows the same keys");
    push @qrs, $new;
    my ($code, $j) = $wa->control('scan', { qr => $qrs[-2] });
    is($code, 404, "$what: the old QR leads nowhere ($j->{error})");
}

my $since = $wa->last_seq;
my $sent = $wa->scan($qrs[-1]);
is($sent->{conn}, $reg->{conn}, 'the last QR is scanned on the live registration');
$wa->wait(type => 'paired', conn => $reg->{conn}, since => $since);
my $login = $wa->wait(type => 'handshake', since => $since);
is($login->{client}{kind}, 'login', 'paired, then a login');
$t->wait_device('main', 'connected', 20);
is(scalar @{$wa->events(type => 'handshake', since => 0)}, 4, 'three registrations and a login in all');
my $log = $t->read_file('error.log');
ok(!grep({ index($log, $_) >= 0 } @qrs), 'error.log never holds a QR text');
$t->finish;
done_testing;
