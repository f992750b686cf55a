# Pairing by phone number through the devices API against the loopback
# server: POST <prefix>main/pair-code turns the registration connection to
# a code (the mock sees companion_hello for that number), the device shows
# pairing_code and no QR; the person types the code on the phone (the
# mock's enter-code), and the device is linked to that number and logs in.
# A linked device refuses a pair-code command with a reason.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest;
use ChatwootTest::WaMock;
use JSON::PP qw(decode_json);
use Test::More;

my $PHONE = '15553334444';

my $t = ChatwootTest->new;
my ($port, $wa) = $t->start_wa;
my $qr = $t->wait_qr('main');

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

# The code the device shows, from the devices API: POST pair-code answers
# {id, code} once the helper has it, and GET <prefix>main/pair-code polls
# for it (200 with the code, 202 before); undef when none comes.
sub code_from_api {
    my ($answer, $timeout) = @_;
    return $answer->{code} if defined $answer->{code};
    return eval {
        $t->wait_for(sub {
            my ($code, undef, $body) = $t->devices_http('GET', 'main/pair-code');
            return unless $code == 200;
            decode_json($body)->{code};
        }, $timeout, 'the pair code');
    };
}

my $since = $wa->last_seq;
my ($code, $j) = $t->device_command('main', 'pair-code', { phone => "+$PHONE" });
my $answer = $j;
is($code, 202, 'pair-code: 202');
my $hello = $wa->wait(type => 'pair-code-hello', since => $since);
is($hello->{phone}, $PHONE, 'the mock sees companion_hello for that number');
my $reg = $wa->events(type => 'handshake')->[-1];
is($hello->{conn}, $reg->{conn}, 'on the registration connection');
my $outcome = settled($j->{id});
is($outcome->{state}, 'done', 'the command is done');
my $d = $t->wait_device('main', 'pairing_code', 20);
is($d->{qr_pending}, JSON::PP::false, 'pairing_code: no QR pending');
($code) = $t->qr_text('main');
is($code, 409, 'pairing_code: the QR endpoint answers 409');
ok(!exists $d->{code} && !exists $d->{pair_code}, 'the device JSON holds no code');
ok(eval { $t->wait_log(qr/\[notice\].*inbox "main": WhatsApp pairing code ready/) }, 'a notice says the code is ready')
    or diag $@;
unlike($t->read_file('error.log'), qr/\Q$PHONE\E/, 'the phone number is not logged');

my $pair_code = code_from_api($answer, 20);
like($pair_code // '', qr/^[A-Z0-9]{4}-?[A-Z0-9]{4}$/, 'the code from the API: 8 characters');
$since = $wa->last_seq;
$wa->enter_code($pair_code, $hello->{conn});
my $fin = $wa->wait(type => 'pair-code-finish', since => $since, timeout => 20);
is($fin->{phone}, $PHONE, 'the code typed on the phone: the companion finishes the exchange');
my $paired = $wa->wait(type => 'paired', since => $since);
like($paired->{jid}, qr/^\Q$PHONE\E:\d+\@s\.whatsapp\.net$/, "paired as $paired->{jid}");
my $login = $wa->wait(type => 'handshake', since => $paired->{seq});
is($login->{client}{kind}, 'login', 'then a login');
is($login->{client}{noiseKey}, $reg->{client}{noiseKey}, 'with the keys it registered');
$d = $t->wait_device('main', 'connected', 20);
like($d->{pn_jid}, qr/^\Q$PHONE\E/, 'connected, linked to that number');
unlike($t->read_file('error.log'), qr/\Q$pair_code\E/, 'the code is never logged');
my ($c409) = $t->devices_http('GET', 'main/pair-code');
is($c409, 409, 'linked: GET pair-code answers 409');

# Linked: pair-code is refused.
($code, $j) = $t->device_command('main', 'pair-code', { phone => "+$PHONE" });
is($code, 202, 'pair-code on a linked device: 202');
$outcome = settled($j->{id});
is($outcome->{state}, 'failed', 'pair-code on a linked device: failed');
like($outcome->{reason} // '', qr/linked already/, "with the reason: " . ($outcome->{reason} // 'none'));
is($t->device('main')->{state}, 'connected', 'and the device stays connected');

$t->finish;
done_testing;
