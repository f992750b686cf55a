# The Perl side of the loopback WhatsApp server's world (ChatwootTest::WaMock
# wa_* helpers), on its own: contacts and groups are made and answered as the
# mock's header says, the message helpers refuse what has no companion to go
# to, and the event filters by message id.  The messages themselves are
# proved both ways by t/mock/wa/test/world.test.mjs (a JS companion) and by
# the helper's black-box tests.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest;
use ChatwootTest::WaMock;
use Test::More;

my $t = ChatwootTest->new;
my $wa = ChatwootTest::WaMock->start($t);

my $c = $wa->wa_contact('4915100000001', devices => [0, 2], name => 'Ana', requires_token => 1);
is($c->{pn}, '4915100000001@s.whatsapp.net', 'a contact: its PN');
like($c->{lid}, qr/^\d{15}\@lid$/, 'and a made-up LID');
is_deeply($c->{devices}, [0, 2], 'with the devices asked for');
is($wa->wa_contact('4915100000002', lid => '123456789012345')->{lid}, '123456789012345@lid', 'a given LID is kept');

my $g = $wa->wa_group(subject => 'Team', addressing_mode => 'lid', participants => ['4915100000001', '4915100000002']);
like($g->{jid}, qr/^\d+\@g\.us$/, 'a group: its JID');
is($wa->wa_group(jid => '120363000000000001@g.us', subject => 'Fixed', participants => [])->{jid}, '120363000000000001@g.us',
   'a group with a given JID');

my ($code, $body) = $wa->control('group', { subject => 'X', participants => ['19990000000'] });
is($code, 400, 'a group of strangers is refused');
like($body->{error}, qr/no contact 19990000000/, 'naming the stranger');

ok(!eval { $wa->wa_message(from => '4915100000001', message => { conversation => 'hi' }); 1 }, 'no companion yet: wa_message croaks');
like($@, qr/no companion of ours uploaded pre-keys/, 'saying why');
ok(!eval { $wa->wa_contact('+49'); 1 }, 'a phone with + croaks');

is($wa->wa_ack_policy(phone => '4915100000001', error => 463, once => 1)->{error}, 463, 'ack policy set');
is($wa->wa_ack_policy(phone => '4915100000001', error => undef)->{error}, undef, 'and cleared');
is_deeply($wa->deliveries('NOPE'), {}, 'no deliveries of an unknown id');
ok(!eval { $wa->wait_delivered(id => 'NOPE', timeout => 0.2); 1 }, 'wait_delivered fails the test when none comes');

$wa->stop;
done_testing;
