# An answer over the REST client's cap (256 KiB) is a clear error, logged
# with its request and the cap, not a "malformed JSON" further on.  Here
# the look for a lost post reads a page of 20 long agent messages (about
# 300 KB): the WhatsApp message fails with that reason, and is not posted
# again.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest;
use ChatwootTest::FakeChatwoot;
use Mojo::UserAgent;
use Test::More;

my $CHAT = '5511987654321@s.whatsapp.net';

sub state_of { ChatwootTest::FakeChatwoot->get_state($_[0]) }

my $t = ChatwootTest->new;
my ($fake, $device) = $t->start_bridge;

ChatwootTest->device_message($device, 1, id => 'FIRST', chat => $CHAT, push_name => 'Maria', text => 'first');
my $st = $t->wait_for(sub { my $s = state_of($fake); @{$s->{conversations}} ? $s : undef },
                      15, 'the conversation in Chatwoot');
my $conv = $st->{conversations}[0]{display_id};
my $path = "/api/v1/accounts/1/conversations/$conv/messages";

my $ua = Mojo::UserAgent->new;
for my $i (1 .. 20) {
    my $tx = $ua->post("http://127.0.0.1:$fake$path" => { api_access_token => 'test-api-token' }
                       => json => { content => "$i " . ('x' x 15000), message_type => 'outgoing' });
    die 'agent message: ' . ($tx->res->code // 'no answer') unless ($tx->res->code // 0) == 200;
}

ChatwootTest::FakeChatwoot->set_faults($fake,
    { kind => 'lost_answer', method => 'POST', path_regex => "^\Q$path\E\$", count => 1 });
ChatwootTest->device_message($device, 2, id => 'LOST', chat => $CHAT, push_name => 'Maria', text => 'the lost one');

my $s = $t->wait_for(sub { my $s = $t->status; $s->{bridge}{whatsapp_failed} >= 1 ? $s : undef },
                     30, 'the message settled');
my $log = $t->read_file('error.log');
like($log, qr/\[error\].*GET \Q$path\E: Chatwoot answered 200 with more than the 262144 bytes kept of an answer; not read/,
     'the cut answer is logged at error with its request and the cap');
unlike($log, qr/malformed JSON/, 'not as an answer that does not parse');
like($log, qr/\[error\].*could not be put into Chatwoot: answer 200 over the 262144-byte cap/,
     'the message fails with that reason');
is(scalar(grep { ($_->{source_id} // '') eq 'WAID:LOST' }
          map { @{$_->{messages}} } @{state_of($fake)->{conversations}}),
   1, 'and was not posted a second time');

$t->finish;
done_testing;
