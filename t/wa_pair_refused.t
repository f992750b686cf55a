# A pair-success the device must not believe: one whose device-identity
# HMAC is not keyed by the QR's adv secret, and one whose account signature
# does not verify.  Each is answered with an error (the mock records the
# code and text), logged at warn, stores nothing, and the device keeps
# showing its QR; a genuine scan then links it.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest;
use ChatwootTest::WaMock;
use Test::More;

my $t = ChatwootTest->new;
my ($port, $wa) = $t->start_wa;
my $qr = $t->wait_qr('main');

for my $case (['hmac', 'hmac-mismatch', qr/HMAC mismatch/],
              ['account-signature', 'signature-mismatch', qr/account signature does not verify/]) {
    my ($tamper, $text, $log) = @$case;
    my $since = $wa->last_seq;
    my $sent = $wa->scan($qr, tamper => $tamper);
    my $rej = $wa->wait(type => 'pair-rejected', conn => $sent->{conn}, since => $since);
    is($rej->{code}, '401', "tampered $tamper: the device answers an error 401");
    is($rej->{text}, $text, "tampered $tamper: $text");
    is_deeply($wa->events(type => 'paired', since => $since), [], "tampered $tamper: not paired");
    ok(eval { $t->wait_log(qr/\[warn\].*inbox "main": WhatsApp pairing refused: .*$log/) },
       "tampered $tamper: logged at warn") or diag $@;
    my $d = $t->device('main');
    is($d->{state}, 'pairing_qr', "tampered $tamper: still showing a QR");
    is($d->{pn_jid}, undef, "tampered $tamper: no JID shown");
    is($t->sql(q{SELECT count(*) FROM wa_devices WHERE device = 'main' AND (pn_jid IS NOT NULL OR adv_identity IS NOT NULL)})->[0][0],
       0, "tampered $tamper: nothing stored as linked");
}

my $p = $t->pair_qr($wa, 'main');
is($p->{registration}{conn}, $wa->events(type => 'pair-rejected')->[0]{conn},
   'a genuine scan of the same QR links it, on the same connection');
is($p->{device}{pn_jid}, $p->{sent}{jid}, "linked as $p->{sent}{jid}");
ok(index($t->read_file('error.log'), $qr) < 0, 'error.log never holds the QR text');
$t->finish;
done_testing;
