# Agent replies to WhatsApp, through the synthetic device: signed with the
# agent's name and in WhatsApp formatting, sent once, their WhatsApp ids
# kept so the device's echo is not posted back into Chatwoot and a deletion
# in Chatwoot revokes the right message.  A reply first marks the contact's
# earlier messages read (each once); an agent's typing goes to the chat at
# once.
use strict;
use warnings;
use utf8;
use lib 't/lib';
use ChatwootTest qw(free_port);
use ChatwootTest::FakeChatwoot;
use ChatwootTest::Payloads qw(message_created message_updated typing);
use JSON::PP;
use Test::More;

my $JSON = JSON::PP->new->canonical->utf8;
my $t = ChatwootTest->new;
my ($fake, $device, $port) = $t->start_bridge;

sub device_file {
    my ($name, $m) = @_;
    open my $fh, '>', "$device/$name.tmp" or die $!;
    print {$fh} $JSON->encode($m);
    close $fh;
    rename "$device/$name.tmp", "$device/$name" or die $!;
}
# What went as messages (replies, revokes); read receipts and typing apart.
sub sent_files {
    opendir my $dh, "$device/sent" or return [];
    return [sort grep { /\.json$/ && !/-read\.json$/ && !/^typing-/ } readdir $dh];
}
sub read_files {
    opendir my $dh, "$device/sent" or return [];
    return [sort grep { /-read\.json$/ } readdir $dh];
}
sub typing_files {
    opendir my $dh, "$device/sent" or return [];
    return [sort grep { /^typing-.*\.json$/ } readdir $dh];
}
sub read_json {
    open my $fh, '<', $_[0] or die "$_[0]: $!";
    local $/;
    return $JSON->decode(<$fh>);
}
sub message_count {
    my $s = ChatwootTest::FakeChatwoot->get_state($fake);
    my $n = 0;
    $n += scalar @{$_->{messages}} for @{$s->{conversations}};
    return $n;
}

# Maria writes first, so Chatwoot has her contact and conversation.
my $chat = '5511987654321@s.whatsapp.net';
device_file('0001.json', { id => 'A1', chat => $chat, push_name => 'Maria', text => 'oi' });
my $state = $t->wait_for(sub {
    my $s = ChatwootTest::FakeChatwoot->get_state($fake);
    @{$s->{conversations}} && @{$s->{conversations}[0]{messages}} ? $s : undef;
}, 15, "Maria's message in Chatwoot");
my $conv = $state->{conversations}[0]{display_id};

# Ana answers in Chatwoot.
my ($code, undef, $why) = $t->webhook($port, message_created(
    id => 7001, conversation => $conv, content => '**Olá** Maria, veja [o pedido](https://loja.test/p/1)',
    content_attributes => { in_reply_to => 1, in_reply_to_external_id => 'WAID:A1' }));
is($code, 202, "Ana's reply is accepted") or diag $why;
$t->wait_for(sub { my $f = sent_files(); @$f ? $f : undef }, 5, 'a file in sent/');
$t->wait_outbox_settled;   # the sender is through with it: no second file to come
my $files = sent_files();
is(scalar @$files, 1, 'one message sent');
my $sent = read_json("$device/sent/$files->[0]");
is($sent->{chat}, $chat, 'to the chat of the conversation');
is($sent->{text}, "*Ana:*\n\n*Olá* Maria, veja o pedido (https://loja.test/p/1)",
   'signed by the agent, in WhatsApp formatting');
is($sent->{reply_to}, 'A1', 'quoting the WhatsApp message it answers');
ok($sent->{from_me}, 'as our own message');
my $wa_id = $sent->{id};
my $reads = read_files();
is(scalar @$reads, 1, "Maria's message was marked read before the reply went");
is_deeply(read_json("$device/sent/$reads->[0]"), { read => ['A1'], chat => $chat },
          'one receipt for her message, in her chat');
is(($reads->[0] =~ s/-read//r), $files->[0], 'sent with the reply (named for its outbox entry)');
is_deeply($t->sql(q{SELECT state FROM outbox WHERE chatwoot_message_id = 7001}), [['sent']],
          'the outbox entry is settled as sent');
is_deeply($t->sql('SELECT wa_id, chatwoot_message_id FROM wa_sent'), [[$wa_id, 7001]],
          'and its WhatsApp id kept');

# The device echoes our send: it must not come back into Chatwoot.
my $before = message_count();
device_file('0002.json', { id => $wa_id, chat => $chat, from_me => JSON::PP::true,
                           text => $sent->{text} });
device_file('0003.json', { id => 'A2', chat => $chat, push_name => 'Maria', text => 'obrigada' });
$t->wait_for(sub { message_count() >= $before + 1 }, 10, "Maria's next message");
# The device took both files and nothing waits in the store: had the echo
# been taken for a new message, it would be posted by now.
$t->wait_device_done($device);
is(message_count(), $before + 1, 'the echo of our own reply was not posted');
is_deeply($t->sql(q{SELECT wa_id FROM wa_inbound ORDER BY id}), [['A1'], ['A2']],
          'nor stored as a WhatsApp message');

# Ana deletes her reply in Chatwoot: the WhatsApp message is revoked.
($code) = $t->webhook($port, message_updated(
    id => 7001, conversation => $conv, content => 'This message was deleted',
    content_attributes => { deleted => JSON::PP::true }));
is($code, 202, 'the deletion is accepted');
$files = $t->wait_for(sub { my $f = sent_files(); @$f == 2 ? $f : undef }, 5, 'a revoke file');
is_deeply(read_json("$device/sent/$files->[1]"), { revoke => $wa_id, chat => $chat },
          'revoking the message we sent');

# A reply in a conversation whose contact is no WhatsApp chat.
($code) = $t->webhook($port, message_created(id => 7002, conversation => $conv, content => 'x',
                                             phone => 'not-a-phone'));
is($code, 202, 'accepted');
$t->wait_for(sub {
    ($t->sql(q{SELECT state FROM outbox WHERE chatwoot_message_id = 7002})->[0][0] // '') eq 'failed'
}, 5, 'settled as failed');
like($t->read_file('error.log'), qr/\[warn\].*a reply in conversation $conv cannot go to WhatsApp: the conversation's contact is no WhatsApp chat/,
     'and the operator told why');
is(scalar @{sent_files()}, 2, 'nothing sent for it');
is(scalar @{read_files()}, 1, 'a reply that cannot go marks nothing read');

# The next reply marks read only what came since: A2, not A1 again.
($code) = $t->webhook($port, message_created(id => 7003, conversation => $conv, content => 'de nada'));
is($code, 202, 'a third reply is accepted');
$t->wait_for(sub { @{sent_files()} == 3 }, 5, 'the third reply sent');
$t->wait_outbox_settled;
$reads = read_files();
is(scalar @$reads, 2, 'a second receipt went');
is_deeply(read_json("$device/sent/$reads->[1]"), { read => ['A2'], chat => $chat },
          'for what Maria wrote since the first, only');
($code) = $t->webhook($port, message_created(id => 7004, conversation => $conv, content => 'até logo'));
$t->wait_for(sub { @{sent_files()} == 4 }, 5, 'the fourth reply sent');
$t->wait_outbox_settled;
is(scalar @{read_files()}, 2, 'a reply with nothing new to read sends no receipt');
is_deeply($t->sql('SELECT chat, read_up_to > 0 FROM wa_read_marks'), [[$chat, 1]],
          "the chat's mark is kept in the store");

# Ana types: the chat state goes at once, on and off, in order.
($code) = $t->webhook($port, typing(on => 1, conversation => $conv));
is($code, 202, 'typing on is accepted');
$t->wait_for(sub { @{typing_files()} == 1 }, 5, 'a typing file');
($code) = $t->webhook($port, typing(on => 0, conversation => $conv));
$t->wait_for(sub { @{typing_files()} == 2 }, 5, 'a second typing file');
my $typing = typing_files();
is_deeply([map { read_json("$device/sent/$_") } @$typing],
          [{ typing => JSON::PP::true, chat => $chat }, { typing => JSON::PP::false, chat => $chat }],
          'composing then paused, to the chat of the conversation');
# Private typing (a note being written) and typing where no chat is: nothing.
($code) = $t->webhook($port, typing(on => 1, conversation => $conv, private => 1));
is($code, 200, 'private typing is answered as ignored');
($code) = $t->webhook($port, typing(on => 1, conversation => 999));
is($code, 202, 'typing in a conversation of no chat is answered');
$t->wait_log(qr/an agent typed in conversation 999, which no WhatsApp chat has/);
is(scalar @{typing_files()}, 2, 'neither goes to WhatsApp');
is_deeply($t->sql(q{SELECT count(*) FROM outbox WHERE conversation_id = ? AND action NOT IN ('send', 'delete')},
                  $conv), [[0]], 'typing is never an outbox entry');

my $bridge = $t->status->{bridge};
is($bridge->{replies_sent}, 3, 'status counts the replies sent');
is($bridge->{replies_failed}, 1, 'and the one that could not go');
my $devices = $t->status->{devices};
is(scalar @$devices, 1, 'status lists the inbox\'s device');
is($devices->[0]{state}, 'connected', 'the synthetic device is always connected');
ok(!exists $devices->[0]{qr}, 'and never shows a QR code');

$t->finish;
done_testing;
