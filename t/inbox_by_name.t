# An inbox block may name its Chatwoot inbox by name: the helper looks it
# up (an API inbox, exactly that name) and, with create=<webhook URL>,
# makes it when it is missing.  Until then WhatsApp messages wait in the
# store, never lost.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest qw(free_port);
use ChatwootTest::FakeChatwoot;
use JSON::PP;
use Test::More;

my $JSON = JSON::PP->new->canonical->utf8;

sub message {
    my ($device, $id) = @_;
    open my $fh, '>', "$device/$id.json.tmp" or die $!;
    print {$fh} $JSON->encode({ id => $id, chat => '5511987654321@s.whatsapp.net',
                                push_name => 'Maria', text => "message $id" });
    close $fh;
    rename "$device/$id.json.tmp", "$device/$id.json" or die $!;
}

sub posted {
    my ($t, $fake, $n) = @_;
    return $t->wait_for(sub {
        my $s = ChatwootTest::FakeChatwoot->get_state($fake);
        my $got = 0;
        $got += @{$_->{messages}} for @{$s->{conversations}};
        $got >= $n ? $s : undef;
    }, 15, "$n message(s) in Chatwoot");
}

# --- found by name, among inboxes of other kinds -----------------------------------
{
    my $t = ChatwootTest->new;
    my ($fake, $device) = $t->start_bridge(
        inbox => 'name=WhatsApp',
        fake => { inbox => { id => 12, name => 'WhatsApp' },
                  extra_inboxes => [{ id => 3, name => 'Website', channel_type => 'Channel::WebWidget' }] });
    message($device, 'N1');
    my $state = posted($t, $fake, 1);
    is($state->{conversations}[0]{inbox_id}, 12, 'the conversation is in the inbox of that name');
    is_deeply([map { $_->{inbox_id} } @{$state->{contact_inboxes}}], [12], 'and so is the contact');
    like($t->read_file('error.log'), qr/\[notice\].*inbox "main" is Chatwoot inbox 12 "WhatsApp"/,
         'the helper says which inbox it found');
    $t->finish;
}

# --- made when missing ----------------------------------------------------------------
{
    my $t = ChatwootTest->new;
    my ($fake, $device, $port) = $t->start_bridge(
        inbox => 'name=Support create=http://bridge.test/chatwoot/webhook');
    message($device, 'C1');
    my $state = posted($t, $fake, 1);
    my ($made) = grep { $_->{name} eq 'Support' } @{$state->{inboxes}};
    ok($made, 'an API inbox named Support was created');
    is($made->{channel_type}, 'Channel::Api', 'of the API channel');
    is($made->{webhook_url}, 'http://bridge.test/chatwoot/webhook', 'calling back the given URL');
    is($state->{conversations}[0]{inbox_id}, $made->{id}, 'and the message went there');
    my @creates = grep { $_->{method} eq 'POST' && $_->{path} =~ m{/inboxes$} } @{$state->{requests}};
    is(scalar @creates, 1, 'made once');
    like($t->read_file('error.log'), qr/inbox "main" is Chatwoot inbox $made->{id} "Support", created now as an API inbox/,
         'and the helper says it made it');

    # A helper that starts again finds it instead of making another.
    $t->allow_log(qr/cache manager process \d+ exited on signal 9/);
    kill 'KILL', $t->status->{helper}{pid};
    $t->wait_for(sub { my $s = $t->status; $s->{helper}{state} eq 'running' && $s->{helper}{pid} }, 10,
                 'helper back');
    message($device, 'C2');
    $state = posted($t, $fake, 2);
    is(scalar(grep { $_->{name} eq 'Support' } @{$state->{inboxes}}), 1, 'still one inbox named Support');
    $t->finish;
}

# --- missing and not to be made: messages wait -----------------------------------------
{
    my $t = ChatwootTest->new;
    my ($fake, $device) = $t->start_bridge(inbox => 'name=Nowhere');
    $t->allow_log(qr/\[error\].*inbox "main": Chatwoot has no inbox named "Nowhere"/);
    message($device, 'W1');
    $t->wait_for(sub { $t->read_file('error.log') =~ /Chatwoot has no inbox named "Nowhere" that this token can see/ },
                 10, 'the helper reports the missing inbox');
    # W1 is in the store; the helper's next turn takes W2, which it does
    # only after the turn that stored W1 had its chats kicked: had anything
    # gone to Chatwoot for W1, its request would be on its way by then.
    $t->wait_for(sub { @{$t->sql(q{SELECT 1 FROM wa_inbound WHERE wa_id = 'W1'})} }, 10, 'W1 stored');
    message($device, 'W2');
    $t->wait_for(sub { @{$t->sql(q{SELECT 1 FROM wa_inbound WHERE wa_id = 'W2'})} }, 10, 'W2 stored');
    my $state = ChatwootTest::FakeChatwoot->get_state($fake);
    is(scalar @{$state->{conversations}}, 0, 'nothing went anywhere');
    is_deeply([map { "$_->{method} $_->{path}" } grep { $_->{path} =~ m{/(?:contacts|conversations)\b} }
               @{$state->{requests}}],
              [], 'nor asked Chatwoot about contacts or conversations');
    is_deeply($t->sql(q{SELECT wa_id, state FROM wa_inbound ORDER BY id}), [['W1', 'pending'], ['W2', 'pending']],
              'the messages wait in the store');
    $t->finish;
}

# --- a name that is not an API inbox --------------------------------------------------
{
    my $t = ChatwootTest->new;
    my ($fake, $device) = $t->start_bridge(
        inbox => 'name=Website create=http://bridge.test/w',
        fake => { extra_inboxes => [{ id => 3, name => 'Website', channel_type => 'Channel::WebWidget' }] });
    $t->allow_log(qr/\[error\].*is a Channel::WebWidget inbox; the bridge needs an API inbox/);
    $t->wait_for(sub { $t->read_file('error.log') =~ /the bridge needs an API inbox/ }, 10,
                 'a widget inbox of that name is refused, not taken over or duplicated');
    my $state = ChatwootTest::FakeChatwoot->get_state($fake);
    is(scalar(grep { $_->{name} eq 'Website' } @{$state->{inboxes}}), 1, 'and no second one is made');
    $t->finish;
}

done_testing;
