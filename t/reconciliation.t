# Start-up reconciliation (DESIGN.md section 4): an agent reply whose
# webhook never reached the store (here: written in Chatwoot while no
# webhook was sent, as after a power loss or with nginx down) is found in
# Chatwoot when the helper starts and sent to WhatsApp once; a reply whose
# webhook did arrive is not sent again; a new store does not send history.
use strict;
use warnings;
use utf8;
use lib 't/lib';
use ChatwootTest qw(free_port);
use ChatwootTest::FakeChatwoot;
use ChatwootTest::Payloads qw(message_created);
use JSON::PP;
use Mojo::UserAgent;
use Test::More;

my $JSON = JSON::PP->new->canonical->utf8;
my $t = ChatwootTest->new;
$t->allow_log(qr/cache manager process \d+ exited on signal 9/);
$t->allow_log(qr/agent repl(y|ies) found in Chatwoot that never reached us/);
my ($fake, $device, $port) = $t->start_bridge;
my $ua = Mojo::UserAgent->new;

# The messages sent (read receipts that go before a reply apart).
sub sent_files {
    opendir my $dh, "$device/sent" or return [];
    return [sort grep { /\.json$/ && !/-read\.json$/ && !/^typing-/ } readdir $dh];
}
sub read_json {
    open my $fh, '<', $_[0] or die "$_[0]: $!";
    local $/;
    return $JSON->decode(<$fh>);
}
# An agent writing in Chatwoot's UI: the REST call the UI makes, no webhook.
sub agent_writes {
    my ($conv, $text) = @_;
    my $res = $ua->post("http://127.0.0.1:$fake/api/v1/accounts/1/conversations/$conv/messages"
                        => { api_access_token => 'test-api-token' }
                        => json => { content => $text, message_type => 'outgoing' })->result;
    die 'agent message: ' . $res->code . ' ' . $res->body unless $res->is_success;
    return $res->json->{id};
}
# The Chatwoot requests of start-up reconciliations so far.
sub lists {
    return scalar grep { $_->{method} eq 'GET' && $_->{path} =~ m{/conversations$} && ($_->{query} // '') =~ /inbox_id=7/ }
                  @{ChatwootTest::FakeChatwoot->get_state($fake)->{requests}};
}
# A start-up reconciliation is over when the helper says so, and what it
# found is through once the outbox is settled: only then is "nothing more
# was sent" true rather than "nothing yet".
my $CHECKED = qr/inbox "main": checked Chatwoot for agent replies that never reached us/;
sub wait_reconciled {
    my ($n) = @_;
    $t->wait_log($CHECKED, $n, 15);
    $t->wait_outbox_settled;
}
# Returns how many start-up checks were over before it.
sub restart_helper {
    my $checks = $t->log_count($CHECKED);
    my $old = $t->status->{helper}{pid};
    kill 'KILL', $old;
    $t->wait_for(sub { my $s = $t->status; $s->{helper}{state} eq 'running' && $s->{helper}{pid} != $old },
                 10, 'a new helper');
    return $checks;
}

# A fresh store marks "now": what agents wrote before is history.
is_deeply($t->sql('SELECT inbox FROM reconciliations'), [['main']], 'a new store starts its mark');

my $chat = '5511987654321@s.whatsapp.net';
open my $fh, '>', "$device/0001.json" or die $!;
print {$fh} $JSON->encode({ id => 'A1', chat => $chat, push_name => 'Maria', text => 'oi' });
close $fh;
my $state = $t->wait_for(sub {
    my $s = ChatwootTest::FakeChatwoot->get_state($fake);
    @{$s->{conversations}} && @{$s->{conversations}[0]{messages}} ? $s : undef;
}, 15, "Maria's message in Chatwoot");
my $conv = $state->{conversations}[0]{display_id};

# One reply arrives by webhook as usual; one is written with no webhook.
my $delivered = agent_writes($conv, 'this one came by webhook');
my ($code) = $t->webhook($port, message_created(id => $delivered, conversation => $conv,
                                                 content => 'this one came by webhook'));
is($code, 202, 'the first reply is accepted by the webhook');
$t->wait_for(sub { @{sent_files()} == 1 }, 10, 'and sent');
my $lost = agent_writes($conv, 'this one never came by *webhook*');
# A later reply of the same conversation comes by webhook and is sent: the
# helper has been through that conversation's replies since the lost one
# was written, and still nothing told it about that one.
my $later = agent_writes($conv, 'and this one came by webhook');
($code) = $t->webhook($port, message_created(id => $later, conversation => $conv,
                                             content => 'and this one came by webhook'));
is($code, 202, 'a later reply is accepted by the webhook');
$t->wait_for(sub { @{sent_files()} >= 2 }, 10, 'and sent');
$t->wait_outbox_settled;
is(scalar @{sent_files()}, 2, 'the reply without webhook is not sent (nothing told us)');
is_deeply([grep { /never came/ } map { read_json("$device/sent/$_")->{text} } @{sent_files()}], [],
          'what was sent are the two that came by webhook');
is(lists(), 0, 'and the running helper did not go looking for it in Chatwoot');

my $checks = restart_helper();
my $files = $t->wait_for(sub { my $f = sent_files(); @$f >= 3 ? $f : undef }, 10,
                         'the restarted helper found the lost reply');
wait_reconciled($checks + 1);
$files = sent_files();
is(scalar @$files, 3, 'it is sent once, and the delivered ones are not sent again');
my $sent = read_json("$device/sent/$files->[2]");
is($sent->{chat}, $chat, 'to the conversation\'s chat');
like($sent->{text}, qr/this one never came by _webhook_\z/, 'in WhatsApp formatting, signed as usual');
is_deeply($t->sql("SELECT chatwoot_message_id, state FROM outbox ORDER BY id"),
          [[$delivered, 'sent'], [$later, 'sent'], [$lost, 'sent']], 'all are in the outbox once, sent');
like($t->read_file('error.log'), qr/\[warn\].*inbox "main": 1 agent reply found in Chatwoot that never reached us/,
     'the helper says what it found');

# Another restart finds nothing new: nothing is sent twice.
$checks = restart_helper();
wait_reconciled($checks + 1);
is(scalar @{sent_files()}, 3, 'a later start sends nothing again');
is($t->log_count(qr/agent repl(?:y|ies) found in Chatwoot that never reached us/), 1,
   'and finds nothing to say');
my $lists = lists();
ok($lists >= 2, "each start looked at the inbox's conversations ($lists lists)");
$t->finish;

done_testing;
