# A WhatsApp message whose post went through but whose answer was lost is
# looked for before it is posted again.  When more than a page (20) of
# newer messages came into the conversation meanwhile, the newest page no
# longer holds it: the look pages back (before=<oldest id>) and finds it,
# instead of posting it a second time.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest;
use ChatwootTest::FakeChatwoot;
use Mojo::UserAgent;
use Test::More;

my $CHAT = '5511987654321@s.whatsapp.net';

sub state_of { ChatwootTest::FakeChatwoot->get_state($_[0]) }

sub messages_of {
    my ($state) = @_;
    return [map { @{$_->{messages}} } @{$state->{conversations}}];
}

my $t = ChatwootTest->new;
my ($fake, $device) = $t->start_bridge;

# The chat's contact and conversation first.
ChatwootTest->device_message($device, 1, id => 'FIRST', chat => $CHAT, push_name => 'Maria', text => 'first');
my $st = $t->wait_for(sub { my $s = state_of($fake); @{messages_of($s)} == 1 ? $s : undef },
                      15, 'the first message in Chatwoot');
my $conv = $st->{conversations}[0]{display_id};
my $path = "/api/v1/accounts/1/conversations/$conv/messages";

# The next post is done but its answer lost; the look that follows is held
# long enough for agents to write a page and more of newer messages.
ChatwootTest::FakeChatwoot->set_faults($fake,
    { kind => 'lost_answer', method => 'POST', path_regex => "^\Q$path\E\$", count => 1 },
    { kind => 'slow', delay_ms => 3000, method => 'GET', path_regex => "^\Q$path\E\$",
      count => 1 });
ChatwootTest->device_message($device, 2, id => 'LOST', chat => $CHAT, push_name => 'Maria', text => 'the lost one');

# The look has reached Chatwoot (logged on arrival, answered later).
$t->wait_for(sub {
    grep { $_->{method} eq 'GET' && $_->{path} eq $path } @{state_of($fake)->{requests}}
}, 15, 'the look for the lost post');

my $ua = Mojo::UserAgent->new;
for my $i (1 .. 25) {
    my $tx = $ua->post("http://127.0.0.1:$fake$path" => { api_access_token => 'test-api-token' }
                       => json => { content => "agent reply $i", message_type => 'outgoing' });
    die 'agent message: ' . ($tx->res->code // 'no answer') unless ($tx->res->code // 0) == 200;
}

# Once the bridge has settled the row, count.
$t->wait_for(sub { my $s = $t->status; $s->{bridge}{whatsapp_posted} >= 2 ? $s : undef },
             30, 'the lost post settled');
$st = state_of($fake);
my @copies = grep { ($_->{source_id} // '') eq 'WAID:LOST' } @{messages_of($st)};
is(scalar @copies, 1, 'the lost post is in Chatwoot once, not posted again');
is(scalar @{messages_of($st)}, 27, 'first, lost, and the 25 agent messages');
my @looks = grep { $_->{method} eq 'GET' && $_->{path} eq $path } @{$st->{requests}};
ok(@looks >= 2, 'the look read more than the newest page');
like($looks[1]{query} // '', qr/^before=\d+$/, 'paging back with before=');
is($t->status->{bridge}{whatsapp_failed}, 0, 'nothing failed');
is($t->sql("SELECT state, chatwoot_message_id FROM wa_inbound WHERE wa_id = 'LOST'")->[0][0],
   'posted', 'the store has it posted');

$t->finish;
done_testing;
