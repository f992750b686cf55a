# The two ways a linked device stops being linked.  The operator logs it
# out (POST <prefix>main/logout): the mock receives remove-companion-device,
# the keys go, and the device is back to unpaired with a fresh QR (new
# keys).  The phone removes it (stream error 401, device_removed): the
# device is logged_out, its keys are cleared from the store, and it does not
# reconnect by itself.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest;
use ChatwootTest::WaMock;
use JSON::PP;
use Test::More;

my $t = ChatwootTest->new;
my ($port, $wa) = $t->start_wa;
my @qrs;

# Pairs by QR; returns (device JSON, the registration's handshake event,
# the first login's handshake event).
sub pair {
    my $p = $t->pair_qr($wa, 'main');
    push @qrs, $p->{qr};
    $wa->wait(type => 'passive', conn => $p->{login}{conn});
    return @$p{qw(device registration login)};
}

# 32 bytes (hex, the last 64 digits) as the QR's base64.
sub _b64 { require MIME::Base64; MIME::Base64::encode_base64(pack('H*', substr $_[0], -64), '') }

# The device's key rows, as (identity hex, pn_jid, has adv).
sub key_rows {
    return $t->sql(q{SELECT lower(hex(identity_public)), pn_jid, adv_identity IS NOT NULL
                     FROM wa_devices WHERE device = 'main'});
}

# Polls the command until the helper settles it.
sub settled {
    my ($id) = @_;
    return $t->wait_for(sub {
        my ($code, undef, $body) = $t->devices_http('GET', "commands/$id");
        return unless $code == 200;
        my $j = decode_json($body);
        $j->{state} eq 'pending' ? undef : $j;
    }, 20, "command $id settled");
}

my ($d, $reg, $login) = pair();
is($d->{state}, 'connected', 'paired and connected');
my $identity = substr $reg->{client}{identity}, -64;
is(key_rows()->[0][0], $identity, 'the store holds the identity it registered');

# 1. The operator logs out.
my $since = $wa->last_seq;
my ($code, $j) = $t->device_command('main', 'logout');
is($code, 202, 'logout: 202');
like($j->{id}, qr/^[0-9a-f]{32}$/, 'logout: a command id');
my $rcd_ev = $wa->wait(type => 'remove-companion-device', since => $since);
is($rcd_ev->{conn}, $login->{conn}, 'the mock records remove-companion-device from the device\'s connection');
is($rcd_ev->{reason}, 'user_initiated', 'as the user\'s own wish');
is_deeply($wa->events(type => 'remove-companion-refused', since => $since), [], 'for its own device');
my $rm = $wa->received_with('remove-companion-device', since => $since);
is(scalar @$rm, 1, 'the mock received one remove-companion-device');
is($rm->[0]{conn}, $login->{conn}, 'on the device\'s connection');
my ($rcd) = grep { $_->{tag} eq 'remove-companion-device' } @{$rm->[0]{node}{content} // []};
my ($user, $dev) = ($login->{client}{username}, $login->{client}{device});
like($rcd->{attrs}{jid} // '', qr/^\Q$user\E:\Q$dev\E\@s\.whatsapp\.net$/, 'naming the device: '
     . ($rcd->{attrs}{jid} // 'no jid'));
my $outcome = settled($j->{id});
is($outcome->{kind}, 'logout', 'logout: the command is a logout');
is($outcome->{state}, 'done', 'logout: settled done') or diag explain $outcome;
$d = $t->wait_device('main', sub { $_[0]{state} =~ /^(unpaired|pairing_qr)$/ && !defined $_[0]{pn_jid} },
                     20, 'unpaired after the logout');
is($d->{lid}, undef, 'logout: no LID shown');
my $fresh = $t->wait_qr('main');
isnt($fresh, $qrs[0], 'logout: a fresh QR');
my $reg2 = $wa->wait(type => 'handshake', since => $since);
is($reg2->{client}{kind}, 'registration', 'logout: the device registers again');
isnt(substr($reg2->{client}{identity}, -64), $identity, 'with a new identity');
my ($row) = grep { $_->[0] eq $identity } @{key_rows()};
ok(!$row, 'logout: the old identity is gone from the store');
is(scalar(grep { defined $_->[1] } @{key_rows()}), 0, 'logout: no phone-number JID stored');
like($fresh, qr/,\Q@{[ _b64($reg2->{client}{identity}) ]}\E,/, 'the fresh QR shows the new identity');
push @qrs, $fresh;

# 2. The phone removes the device: stream error 401 (device_removed).
($d, $reg, $login) = pair();
$identity = substr $reg->{client}{identity}, -64;
my $reconnects = $d->{reconnects};
$since = $wa->last_seq;
$wa->stream_error('401', $login->{conn});
$d = $t->wait_device('main', 'logged_out', 20);
is($d->{pn_jid}, undef, '401: no phone-number JID shown');
like($d->{error} // '', qr/removed|logged out|link it again/i, "401: says why: " . ($d->{error} // 'nothing'));
ok(eval { $t->wait_log(qr/\[warn\].*inbox "main".*logged out/) },
   '401: a warn line says the device was logged out') or diag $@;
($row) = grep { $_->[0] eq $identity } @{key_rows()};
ok(!$row, '401: the device\'s identity is cleared from the store');
is($t->sql(q{SELECT count(*) FROM wa_pre_keys WHERE device = 'main'})->[0][0], 0,
   '401: its prekeys are cleared');
is($t->sql(q{SELECT count(*) FROM wa_signed_pre_keys WHERE device = 'main'})->[0][0], 0,
   '401: its signed prekey is cleared');
is($t->sql(q{SELECT count(*) FROM wa_sessions WHERE device = 'main'})->[0][0], 0,
   '401: no Signal session left');
($code) = $t->qr_text('main');
is($code, 409, '401: no QR until the operator asks for one');
# Not reconnecting: the state stays logged_out while the helper republishes
# its snapshot (every second) and the mock sees no new connection.
$d = $t->wait_device('main', sub { $_[0]{state_since} && time - $_[0]{state_since} >= 3 }, 10,
                     'logged_out for 3 s');
is($d->{state}, 'logged_out', '401: still logged out');
is($d->{reconnects}, $reconnects, '401: no reconnect counted');
is_deeply($wa->events(type => 'connected', since => $since), [], '401: no new connection');

# Linking it again is the operator's move: POST pair.
my $again = $t->wait_qr('main');
ok($again, '401: pair shows a QR again');
push @qrs, $again;

my $log = $t->read_file('error.log');
ok(!grep({ index($log, $_) >= 0 } @qrs), 'error.log never holds a QR text');
$t->finish;
done_testing;
