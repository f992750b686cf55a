# An agent reply no WhatsApp device takes within device_timeout is marked
# failed in Chatwoot (status "failed", external_error DEVICE_NOT_AVAILABLE)
# through the helper's REST client, against a fake Chatwoot that is strict
# to the real contract; 5xx and lost answers on the way are retried, and a
# message Chatwoot no longer has is given up without a loop.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest qw(free_port);
use ChatwootTest::FakeChatwoot;
use ChatwootTest::Payloads qw(message_created);
use Mojo::UserAgent;
use Test::More;
use Time::HiRes qw(sleep time);

my $t = ChatwootTest->new;
my $fake = ChatwootTest::FakeChatwoot->spawn($t, account => 1, token => 'test-api-token',
                                             inbox => { id => 7, name => 'WhatsApp' });
my $api = "http://127.0.0.1:$fake/api/v1/accounts/1";
my $ua = Mojo::UserAgent->new;
my %auth = (api_access_token => 'test-api-token');

# An agent's reply as it exists in Chatwoot: contact, conversation, message.
my $contact = $ua->post("$api/contacts", \%auth => json => {
    inbox_id => 7, name => 'Maria', identifier => '5511987654321@s.whatsapp.net',
    phone_number => '+5511987654321', source_id => '5511987654321@s.whatsapp.net',
})->res->json->{payload}{contact}{id};
my $conv = $ua->post("$api/conversations", \%auth => json => {
    inbox_id => 7, contact_id => $contact, source_id => '5511987654321@s.whatsapp.net',
})->res->json->{id};
my @messages = map {
    $ua->post("$api/conversations/$conv/messages", \%auth => json => {
        content => "reply $_", message_type => 'outgoing',
    })->res->json->{id}
} 1 .. 2;
ok($contact && $conv && $messages[1], "fake Chatwoot has conversation $conv with messages @messages");

# Two 500s and one lost answer before the status update goes through.
ChatwootTest::FakeChatwoot->set_faults($fake,
    { method => 'PATCH', path_regex => '/messages/', kind => '500', count => 2 },
    { method => 'PATCH', path_regex => '/messages/', kind => 'lost_answer', count => 1, skip => 2 });

my $port = free_port();
$t->write_config($t->chatwoot_http(
    port => $port,
    inbox => { url => "http://127.0.0.1:$fake/", extra => "device_timeout 1s;\n" },
))->run;
$t->wait_helper_running;

for my $i (0, 1) {
    my ($code) = $t->webhook($port, message_created(id => $messages[$i], conversation => $conv,
                                                    content => "reply " . ($i + 1)));
    is($code, 202, "the agent's reply $messages[$i] is accepted");
}
# A reply Chatwoot no longer has (deleted meanwhile): 404, given up.
my ($code) = $t->webhook($port, message_created(id => 999_999, conversation => $conv));
is($code, 202, 'a reply for a message Chatwoot will not know is accepted too');

my $state = $t->wait_for(sub {
    my $s = ChatwootTest::FakeChatwoot->get_state($fake);
    my ($c) = grep { $_->{display_id} == $conv } @{$s->{conversations}};
    my @failed = grep { ($_->{status} // '') eq 'failed' } @{$c->{messages} // []};
    @failed == 2 ? $s : undef;
}, 15, 'both replies marked failed in Chatwoot');

my ($c) = grep { $_->{display_id} == $conv } @{$state->{conversations}};
for my $m (grep { $_->{id} == $messages[0] || $_->{id} == $messages[1] } @{$c->{messages}}) {
    is($m->{status}, 'failed', "message $m->{id} is failed in Chatwoot");
    is($m->{content_attributes}{external_error}, 'DEVICE_NOT_AVAILABLE',
       "message $m->{id} says why");
}

$t->wait_for(sub {
    $t->sql(q{SELECT count(*) FROM outbox WHERE state = 'pending'})->[0][0] == 0
}, 10, 'the outbox settled');
$state = ChatwootTest::FakeChatwoot->get_state($fake);
my @patches = grep { $_->{method} eq 'PATCH' } @{$state->{requests}};
my @statuses = map { $_->{status} // 'none' } @patches;
ok(@patches >= 5, "the helper retried through the faults (@statuses)");
is(scalar(grep { ($_->{fault} // '') eq '500' } @patches), 2, 'two 500s were answered');
ok(!grep({ @{$_->{warnings} // []} } @patches), 'Chatwoot would have cast nothing we sent')
    or diag explain [map { $_->{warnings} } @patches];

is_deeply($t->sql(q{SELECT chatwoot_message_id, state FROM outbox ORDER BY id}),
          [[$messages[0], 'failed'], [$messages[1], 'failed'], [999_999, 'failed']],
          'every reply settled as failed, none left pending');
my $log = $t->read_file('error.log');
like($log, qr/\[warn\].*no WhatsApp device took message $messages[0] of conversation $conv in time; marked failed in Chatwoot/,
     'the operator is told at warn');
like($log, qr/\[warn\].*marking message 999999 failed in Chatwoot was refused/,
     'a refusal is logged, not looped on');
unlike($log, qr/test-api-token/, 'the API token is never logged');
is($t->status->{bridge}{replies_failed}, 3, 'status counts the three failed replies');
my ($device) = @{$t->status->{devices}};
is($device->{state}, 'unpaired', 'an inbox with no device shows it unpaired');

$t->finish;
done_testing;
