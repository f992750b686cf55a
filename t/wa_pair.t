# A live WhatsApp device paired by QR through real nginx against the
# loopback WhatsApp server: the QR text from the devices API, scanned by the
# mock's phone, pair-success answered, the 515 restart, a login, and the
# device connected with its phone-number JID and its LID; after the login
# the mock sees the first prekey upload (812 keys), passive active and
# presence available.
# Then nginx is stopped and started again: the device logs in with its
# stored identity, with no new registration, and never two connections.
# The QR text never reaches error.log.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest;
use ChatwootTest::WaMock;
use JSON::PP qw(encode_json);
use MIME::Base64 ();
use Test::More;

my $PHONE = '15557654321';

my $t = ChatwootTest->new;
my ($port, $wa) = $t->start_wa;

my $d = $t->wait_device('main', sub { $_[0]{state} =~ /^(unpaired|pairing_qr)$/ }, 20,
                        'a device with no keys waiting to be paired');
is($d->{pn_jid}, undef, 'before pairing: no phone-number JID');
is($d->{lid}, undef, 'before pairing: no LID');
my ($code, $body) = $t->qr_text('main');
ok($code == 409 || $code == 503 || $code == 200, "qr before the device asked for one: $code");

my $since = 0;   # the mock is the test's own: everything it saw
my $qr = $t->wait_qr('main');
like($qr, qr{^https://wa\.me/settings/linked_devices#2@[^,]+,[A-Za-z0-9+/]{43}=,[A-Za-z0-9+/]{43}=,[A-Za-z0-9+/]{43}=,\d+$},
     'the QR text: the link, ref, noise key, identity key, adv secret, client type');
# The QR is shown only where the operator asks for it.
for my $path ('', 'main') {
    my (undef, undef, $body) = $t->devices_http('GET', $path);
    unlike($body, qr/\Q$qr\E/, "GET <prefix>$path never holds the QR text");
}
my $status = $t->status;
unlike(encode_json($status), qr/\Q$qr\E/, 'the status JSON never holds the QR text');
my ($pending) = grep { $_->{name} eq 'main' } @{$status->{devices}};
is($pending->{state}, 'pairing_qr', 'status: pairing_qr');
is($pending->{qr_pending}, JSON::PP::true, 'status: a QR pending');
SKIP: {
    skip 'zbarimg (zbar-tools) is not installed', 1 if system('command -v zbarimg >/dev/null 2>&1') != 0;
    my ($c, $h, $png) = $t->devices_http('GET', 'main/qr');
    my $file = $t->write_file('qr.png', $png);
    my $decoded = `zbarimg --quiet --raw $file 2>/dev/null`;
    $decoded =~ s/\n+\z//;
    is($decoded, $qr, 'the PNG QR reads back as the QR text (zbarimg)');
}
my $reg = $wa->wait(type => 'handshake', since => $since);
is($reg->{client}{kind}, 'registration', 'the device registers: no keys yet');
is($reg->{client}{deviceProps}{os}, 'Chatwoot (nginx)', 'as "Chatwoot (nginx)", the default whatsapp_device_name');
is_deeply([map { $_->{client}{kind} } @{$wa->events(since => $since, type => 'handshake')}],
          ['registration'], 'one registration, no other handshake');
ok($wa->wait(type => 'pair-device-ack', conn => $reg->{conn}), 'the device acks pair-device');

my $sent = $wa->scan($qr, phone => $PHONE);
like($sent->{jid}, qr/^\Q$PHONE\E:\d+\@s\.whatsapp\.net$/, "the phone pairs it as $sent->{jid}");
my $paired = $wa->wait(type => 'paired', since => $since);
is($paired->{jid}, $sent->{jid}, 'the mock checked pair-device-sign and paired it');
my $login = $wa->wait(type => 'handshake', since => $paired->{seq});
is($login->{client}{kind}, 'login', 'after the 515, a login');
my ($user, $dev) = $sent->{jid} =~ /^(\d+):(\d+)@/;
is($login->{client}{username}, $user, 'as the paired number');
is($login->{client}{device}, $dev, 'and device');
is($login->{client}{noiseKey}, $reg->{client}{noiseKey}, 'with the noise key it registered');

$d = $t->wait_device('main', 'connected', 30);
like($d->{pn_jid}, qr/^\Q$PHONE\E(:\d+)?\@s\.whatsapp\.net$/, "connected: pn_jid $d->{pn_jid}");
my ($lid_user) = $sent->{lid} =~ /^(\d+):/;
like($d->{lid} // '', qr/^\Q$lid_user\E(:\d+)?\@lid$/, 'connected: lid ' . ($d->{lid} // 'none'));
ok($d->{connected_since} > 0, 'connected: connected_since set');
is($d->{qr_pending}, JSON::PP::false, 'connected: no QR pending');
($code) = $t->qr_text('main');
is($code, 409, 'connected: qr answers 409');

my $up = $wa->wait(type => 'prekeys-uploaded', conn => $login->{conn}, since => $since);
is($up->{count}, 812, 'after the login: 812 prekeys uploaded, signature verified by the mock');
is(substr($up->{identity}, -64), substr($reg->{client}{identity}, -64), 'under the identity it registered');
my $passive = $wa->wait(type => 'passive', conn => $login->{conn}, since => $since);
is($passive->{mode}, 'active', 'and passive active');
my $presence = $wa->wait(type => 'received', tag => 'presence', conn => $login->{conn}, since => $since);
is($presence->{node}{attrs}{type}, 'available', 'and presence available');
ok($presence->{seq} > $passive->{seq}, 'after passive active');
is(scalar @{$wa->live_logins}, 1, 'one live connection of the device');

# The status JSON shows the device too.
my ($st) = grep { $_->{name} eq 'main' } @{$t->status->{devices} // []};
ok($st, 'status: the device is listed');
is($st->{state}, 'connected', 'status: connected');
ok($st->{connected_since}, 'status: connected_since');
is($st->{reconnects}, 0, 'status: no reconnect');
is($st->{pn_jid}, $d->{pn_jid}, 'status: pn_jid');
is($st->{lid}, $d->{lid}, 'status: lid');
is($st->{qr_pending}, JSON::PP::false, 'status: no QR pending');

my $keys = $t->sql(q{SELECT pn_jid, hex(identity_public), adv_identity IS NOT NULL
                     FROM wa_devices WHERE device = 'main'});
is(scalar @$keys, 1, 'the store has the device');
like($keys->[0][0] // '', qr/^\Q$PHONE\E/, 'with its phone-number JID');
is(lc $keys->[0][1], substr($reg->{client}{identity}, -64), 'and the identity it registered');
is($keys->[0][2], 1, 'and the account\'s signature over it');
is($t->sql(q{SELECT count(*) FROM wa_pre_keys WHERE device = 'main' AND uploaded = 1})->[0][0],
   812, 'the store marks the 812 prekeys uploaded');

# Stop and start: the stored identity logs in, no registration.
$t->stop;
$wa->wait(type => 'closed', conn => $login->{conn}, since => $since);
ok(1, 'nginx stopped: its connection closed');
my $restart = $wa->last_seq;
$t->run;
$t->wait_helper_running;
my $again = $wa->wait(type => 'handshake', since => $restart, timeout => 20);
is($again->{client}{kind}, 'login', 'after a restart: a login');
is($again->{client}{username}, $user, 'as the same number');
is($again->{client}{device}, $dev, 'and device');
is($again->{client}{noiseKey}, $reg->{client}{noiseKey}, 'with the same noise key');
$d = $t->wait_device('main', sub { $_[0]{state} eq 'connected' && $_[0]{connected_since} }, 30,
                     'connected after the restart');
like($d->{pn_jid}, qr/^\Q$PHONE\E/, 'the same phone-number JID');
$wa->wait(type => 'passive', conn => $again->{conn}, since => $restart);
is_deeply([grep { $_->{client}{kind} ne 'login' } @{$wa->events(since => $restart, type => 'handshake')}],
          [], 'no registration after the restart');
is_deeply($wa->events(type => 'duplicate-login'), [], 'never two live connections of the device');
is(scalar @{$wa->live_logins}, 1, 'one live connection');

my $log = $t->read_file('error.log');
unlike($log, qr/\Q$qr\E/, 'error.log never holds the QR text');
my ($ref, $noise, $identity, $adv) = $qr =~ /#([^,]+),([^,]+),([^,]+),([^,]+),/;
unlike($log, qr/\Q$ref\E/, 'nor its ref');
unlike($log, qr/\Q$adv\E/, 'nor its adv secret');
my $adv_hex = unpack 'H*', MIME::Base64::decode_base64($adv);
unlike($log, qr/$adv_hex/i, 'nor the adv secret in hex');
my $priv = $t->sql(q{SELECT lower(hex(identity_private)), lower(hex(noise_private)) FROM wa_devices
                     WHERE device = 'main'})->[0];
ok(length($priv->[0] // '') >= 64 && length($priv->[1] // '') >= 64, 'the store holds the private keys');
ok(index($log, $priv->[0]) < 0 && index($log, $priv->[1]) < 0, 'error.log never holds a private key');
$t->finish;
done_testing;
