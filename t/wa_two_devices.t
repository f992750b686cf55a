# Two inboxes, two live devices in one helper, linked to two phones: each
# registers under its own whatsapp_device_name, pairs and logs in as its own
# device, and one device's trouble is its own: the other device's
# connection is not touched when the first is replaced (conflict) or cut.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest;
use ChatwootTest::WaMock;
use Test::More;

my $t = ChatwootTest->new;
$t->allow_log(qr/\[error\].*inbox "second": WhatsApp connection replaced/);
my ($port, $wa) = $t->start_wa(
    webhook => 'main', http => sub { $t->wa_inbox('second', qq{        whatsapp_device_name "Front desk";\n}) });

my $list = $t->wait_for(sub {
    my ($code, undef, $body) = $t->devices_http('GET', '');
    return unless $code == 200;
    my $j = JSON::PP::decode_json($body);
    @{$j->{devices}} == 2 ? $j : undef;
}, 20, 'both devices listed');
is_deeply([sort map { $_->{name} } @{$list->{devices}}], [qw(main second)], 'the list: main and second');

my $main = $t->pair_qr($wa, 'main', phone => '15550000001');
my $second = $t->pair_qr($wa, 'second', phone => '15550000002');
isnt($main->{registration}{conn}, $second->{registration}{conn}, 'each registered on its own connection');
isnt($main->{registration}{client}{identity}, $second->{registration}{client}{identity}, 'with its own identity');
is($main->{registration}{client}{deviceProps}{os}, 'Chatwoot (nginx)', 'main: the default device name');
is($second->{registration}{client}{deviceProps}{os}, 'Front desk', 'second: its whatsapp_device_name');
like($main->{device}{pn_jid}, qr/^15550000001\b/, 'main is linked to the first phone');
like($second->{device}{pn_jid}, qr/^15550000002\b/, 'second to the other');
$wa->wait(type => 'passive', conn => $_->{login}{conn}) for $main, $second;
is(scalar @{$wa->live_logins}, 2, 'two live connections, one per device');
is_deeply([sort map { $_->{client}{username} } @{$wa->live_logins}], [qw(15550000001 15550000002)],
          'of the two devices');
is($t->sql(q{SELECT count(*) FROM wa_devices WHERE pn_jid IS NOT NULL})->[0][0], 2,
   'the store holds both devices');

# The second is replaced: it stops; main's connection stays as it is.
my $since = $wa->last_seq;
$wa->stream_error('conflict', $second->{login}{conn});
my $d = $t->wait_device('second', 'error', 20);
like($d->{error}, qr/replaced/, 'second: error, replaced');
$d = $t->device('main');
is($d->{state}, 'connected', 'main: still connected');
is($d->{reconnects}, 0, 'main: no reconnect');
ok(!grep({ $_->{conn} == $main->{login}{conn} } @{$wa->events(since => $since, type => 'closed')}),
   'main: its connection was not closed');

# The second is brought back, then its socket cut: it reconnects alone.
$t->device_command('second', 'pair');
my $hs = $wa->wait(type => 'handshake', since => $since);
is($hs->{client}{username}, '15550000002', 'second: pair logs it in again');
$t->wait_device('second', 'connected', 20);
$wa->wait(type => 'passive', conn => $hs->{conn}, since => $since);
$since = $wa->last_seq;
$wa->drop($hs->{conn});
my $back = $wa->wait(type => 'handshake', since => $since, timeout => 20);
is($back->{client}{username}, '15550000002', 'second: reconnects after the cut');
$d = $t->wait_device('second', sub { $_[0]{state} eq 'connected' && $_[0]{reconnects} >= 1 }, 20,
                     'second connected again');
$wa->wait(type => 'passive', conn => $back->{conn}, since => $since);
is_deeply([map { $_->{client}{username} } @{$wa->events(since => $since, type => 'handshake')}],
          ['15550000002'], 'only the second device connected again');
is($t->device('main')->{reconnects}, 0, 'main: still no reconnect');
my ($row) = grep { $_->{conn} == $main->{login}{conn} } @{$wa->connections};
is($row->{state}, 'open', 'main: its first connection is still open');
is_deeply($wa->events(type => 'duplicate-login'), [], 'never two live connections of one device');

my $log = $t->read_file('error.log');
ok(index($log, $main->{qr}) < 0 && index($log, $second->{qr}) < 0, 'error.log never holds a QR text');
$t->finish;
done_testing;
