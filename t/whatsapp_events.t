# WhatsApp events that refer to earlier messages, into Chatwoot through the
# synthetic device and a fake Chatwoot strict to its contract: a reaction
# (and its removal) shows as the emoji replying to the reacted message, an
# edit as "Edited:" replying to the original (Chatwoot's API cannot change
# a message's content), a revoke deletes the Chatwoot message, a read
# receipt marks the agent's messages read; events whose target Chatwoot
# never had are told, not dropped.
use strict;
use warnings;
use utf8;
use lib 't/lib';
use ChatwootTest qw(free_port);
use ChatwootTest::FakeChatwoot;
use ChatwootTest::Payloads qw(message_created message_updated);
use JSON::PP;
use Test::More;

my $JSON = JSON::PP->new->canonical->utf8;
my $t = ChatwootTest->new;
my ($fake, $device, $port) = $t->start_bridge;
my $chat = '5511987654321@s.whatsapp.net';
my $group = '120363000000000000@g.us';
my $seq = 0;

sub event { ChatwootTest->device_message($device, ++$seq, @_) }
sub state { ChatwootTest::FakeChatwoot->get_state($fake) }
sub messages_of {
    my ($s, $identifier) = @_;
    my ($contact) = grep { $_->{identifier} eq $identifier } @{$s->{contacts}};
    my ($conv) = grep { $_->{contact_id} == $contact->{id} } @{$s->{conversations}};
    return $conv;
}
sub wait_messages {
    my ($identifier, $n, $what) = @_;
    return $t->wait_for(sub {
        my $s = state();
        my ($c) = grep { $_->{identifier} eq $identifier } @{$s->{contacts}} or return;
        my $conv = messages_of($s, $identifier) or return;
        @{$conv->{messages}} >= $n ? $conv : undef;
    }, 15, $what);
}

# Maria writes twice; a group member once.
event(id => 'A1', chat => $chat, push_name => 'Maria', text => 'oi');
event(id => 'A2', chat => $chat, push_name => 'Maria', text => 'o pedido *123*');
event(id => 'G1', chat => $group, chat_name => 'Família', sender => $chat, push_name => 'Maria',
      text => 'bom dia');
my $conv = wait_messages($chat, 2, "Maria's two messages");
wait_messages($group, 1, 'the group message');
my ($a1, $a2) = @{$conv->{messages}};
my $display = $conv->{display_id};

# An agent writes in Chatwoot (a real message of the fake's), and its
# webhook makes the bridge send it: its WhatsApp id is then known.
my ($code, undef, $body) = $t->http($fake, 'POST', "/api/v1/accounts/1/conversations/$display/messages",
    headers => { api_access_token => 'test-api-token', 'Content-Type' => 'application/json' },
    body => $JSON->encode({ content => 'Olá Maria', message_type => 'outgoing' }));
is($code, 200, 'the agent message is in the fake Chatwoot');
my $agent = $JSON->decode($body);
($code) = $t->webhook($port, message_created(id => $agent->{id}, conversation => $display,
                                             content => 'Olá Maria'));
is($code, 202, 'its webhook is accepted');
my $sent = $t->wait_for(sub { $t->sql('SELECT wa_id FROM wa_sent')->[0] }, 10, 'the reply sent');
my $agent_wa = $sent->[0];
$t->wait_outbox_settled;

# --- reactions ----------------------------------------------------------------
event(kind => 'reaction', id => 'R1', chat => $chat, push_name => 'Maria', target => 'A1', text => '👍');
event(kind => 'reaction', id => 'R2', chat => $chat, push_name => 'Maria', target => 'A1', text => '');
event(kind => 'reaction', id => 'R3', chat => $chat, push_name => 'Maria', target => $agent_wa, text => '❤️');
event(kind => 'reaction', id => 'R4', chat => $chat, push_name => 'Maria', target => 'NEVER-SEEN', text => '😂');
event(kind => 'reaction', id => 'RG', chat => $group, sender => $chat, push_name => 'Maria', target => 'G1',
      text => '🙏');
$conv = wait_messages($chat, 3 + 4, 'the four reactions');
my %by = map { ($_->{source_id} // '') => $_ } @{$conv->{messages}};
is($by{'WAID:R1'}{content}, '👍', 'a reaction is its emoji');
is($by{'WAID:R1'}{message_type}, 0, 'from the contact');
is($by{'WAID:R1'}{content_attributes}{in_reply_to}, $a1->{id}, 'replying to the reacted message');
is($by{'WAID:R2'}{content}, '*removed the reaction 👍*', 'a removed reaction says so, naming it');
is($by{'WAID:R2'}{content_attributes}{in_reply_to}, $a1->{id}, 'on the same message');
is($by{'WAID:R3'}{content_attributes}{in_reply_to}, $agent->{id},
   "a reaction to the agent's reply points at it (by Chatwoot id: it has no source id)");
like($by{'WAID:R4'}{content}, qr/^😂 \*\(a reaction to a message that is not in Chatwoot\)\*$/,
     'a reaction to a message Chatwoot never had is told');
ok(!defined $by{'WAID:R4'}{content_attributes}{in_reply_to}, 'and replies to nothing');
my $gconv = wait_messages($group, 2, 'the group reaction');
is($gconv->{messages}[1]{content}, '**Maria:** 🙏', 'a group reaction names who reacted');
is($gconv->{messages}[1]{content_attributes}{in_reply_to}, $gconv->{messages}[0]{id}, 'replying to it');

# --- an edit ----------------------------------------------------------------------
event(kind => 'edit', id => 'E1', chat => $chat, push_name => 'Maria', target => 'A2',
      text => 'o pedido *124*');
$conv = wait_messages($chat, 8, 'the edit');
my $edit = $conv->{messages}[-1];
is($edit->{source_id}, 'WAID:E1', 'an edit is a message of its own');
is($edit->{content}, '*Edited:* o pedido **124**', 'saying it is the new text, in Chatwoot formatting');
is($edit->{content_attributes}{in_reply_to}, $a2->{id}, 'replying to the original');
is($conv->{messages}[1]{content}, 'o pedido **123**', 'the original stays as it was');

# --- revokes ------------------------------------------------------------------------
event(kind => 'revoke', id => 'V1', chat => $chat, push_name => 'Maria', target => 'A2');
event(kind => 'revoke', id => 'V2', chat => $chat, push_name => 'Maria', target => 'GONE-BEFORE');
event(kind => 'revoke', id => 'V3', chat => $chat, push_name => 'Maria', target => 'A2');  # again
$conv = wait_messages($chat, 9, 'the note of the unknown revoke');
$t->wait_device_done($device);
$conv = messages_of(state(), $chat);
my ($deleted) = grep { $_->{id} == $a2->{id} } @{$conv->{messages}};
is($deleted->{content}, 'This message was deleted', 'a revoked message is deleted in Chatwoot');
ok($deleted->{content_attributes}{deleted}, 'as Chatwoot marks deletions');
my $note = $conv->{messages}[-1];
is($note->{source_id}, 'WAID:V2', 'a revoke of a message Chatwoot never had');
ok($note->{private}, 'is a private note for the agents');
like($note->{content}, qr/Deleted for everyone on WhatsApp: a message that is not in Chatwoot \(GONE-BEFORE\)/,
     'saying what happened');
is(scalar @{$conv->{messages}}, 9, 'a revoke of a message deleted already adds nothing');
my @deletes = grep { $_->{method} eq 'DELETE' } @{state()->{requests}};
is(scalar @deletes, 2, 'two DELETEs');
is_deeply([map { $_->{status} } @deletes], [200, 200], 'both taken (Chatwoot deletes a deleted message again)');

# --- a read receipt ------------------------------------------------------------------
my ($before) = grep { $_->{id} == $agent->{id} } @{$conv->{messages}};
is($before->{status}, 'sent', "the agent's message is sent, not read, before the receipt");
event(kind => 'read', id => 'D1', chat => $chat, targets => [$agent_wa, 'UNKNOWN-ID']);
$t->wait_device_done($device);
$conv = messages_of(state(), $chat);
my ($read) = grep { $_->{id} == $agent->{id} } @{$conv->{messages}};
is($read->{status}, 'read', "the contact's read receipt marks the agent's message read");
is(scalar @{$conv->{messages}}, 9, 'and posts nothing');
my @patches = grep { $_->{method} eq 'PATCH' } @{state()->{requests}};
is(scalar @patches, 1, 'one status update: an id Chatwoot never had is passed over');

# --- the owner deletes the agent's reply on the phone ------------------------------
event(kind => 'revoke', id => 'V5', chat => $chat, from_me => JSON::PP::true, target => $agent_wa);
$t->wait_device_done($device);
$conv = messages_of(state(), $chat);
($read) = grep { $_->{id} == $agent->{id} } @{$conv->{messages}};
is($read->{content}, 'This message was deleted', "a revoke from the phone deletes the agent's message too");
# Chatwoot tells us of that deletion: it is the echo of ours, not an agent's.
($code) = $t->webhook($port, message_updated(id => $agent->{id}, conversation => $display,
    content => 'This message was deleted', content_attributes => { deleted => JSON::PP::true }));
is($code, 202, "Chatwoot's deletion webhook is accepted");
$t->wait_for(sub { $t->sql(q{SELECT count(*) FROM outbox WHERE action = 'delete'})->[0][0] }, 5, 'filed');
$t->wait_outbox_settled;
opendir my $dh, "$device/sent" or die $!;
is(scalar(grep { /-revoke\.json$/ } readdir $dh), 0, 'and nothing is revoked on WhatsApp again');

is_deeply($t->sql(q{SELECT state, count(*) FROM wa_inbound GROUP BY state}), [['posted', 14]],
          'every event is settled as posted in the store');
my @warn = grep { @{$_->{warnings} // []} } @{state()->{requests}};
is(scalar @warn, 0, 'nothing we sent needed a cast by Chatwoot') or diag explain \@warn;

$t->finish;

# --- the same under faults: lost answers, 5xx, resets ----------------------------------
{
    my $t = ChatwootTest->new;
    my ($fake, $device) = $t->start_bridge(extra => "concurrency 4;\n");
    my $seq = 0;
    my $ev = sub { ChatwootTest->device_message($device, ++$seq, @_) };
    ChatwootTest::FakeChatwoot->set_faults($fake,
        { kind => 'lost_answer', probability => 0.25 },
        { kind => '500', probability => 0.15 },
        { kind => 'reset', probability => 0.05 });
    my @chats = map { sprintf('55119%08d@s.whatsapp.net', $_) } 1 .. 4;
    for my $i (1 .. 5) {
        $ev->(id => "C${_}M$i", chat => $chats[$_ - 1], text => "message $i") for 1 .. 4;
    }
    for my $c (1 .. 4) {
        my $chat = $chats[$c - 1];
        $ev->(kind => 'reaction', id => "C${c}R1", chat => $chat, target => "C${c}M1", text => '👍');
        $ev->(kind => 'reaction', id => "C${c}R2", chat => $chat, target => "C${c}M1", text => '');
        $ev->(kind => 'edit', id => "C${c}E1", chat => $chat, target => "C${c}M2", text => 'edited');
        $ev->(kind => 'revoke', id => "C${c}V1", chat => $chat, target => "C${c}M3");
        $ev->(kind => 'revoke', id => "C${c}V2", chat => $chat, target => "C${c}NEVER");
    }
    $t->wait_device_done($device, 60);
    my $s = ChatwootTest::FakeChatwoot->get_state($fake);
    my (%count, $deleted, $replies_right);
    for my $conv (@{$s->{conversations}}) {
        my %id_of = map { ($_->{source_id} // '') => $_->{id} } @{$conv->{messages}};
        for my $m (@{$conv->{messages}}) {
            $count{$m->{source_id}}++;
            $deleted++ if $m->{content_attributes}{deleted};
            my ($c, $what) = ($m->{source_id} // '') =~ /^WAID:C(\d)([RE])/ or next;
            my $target = $what eq 'R' ? "WAID:C${c}M1" : "WAID:C${c}M2";
            $replies_right++ if ($m->{content_attributes}{in_reply_to} // 0) == $id_of{$target};
        }
    }
    is(scalar(keys %count), 4 * 5 + 4 * 4, 'every message and every posted event arrived');
    is(scalar(grep { $count{$_} > 1 } keys %count), 0, 'none twice, despite lost answers');
    is($deleted, 4, 'each revoked message deleted');
    is($replies_right, 4 * 3, 'every reaction and edit replies to its target');
    is(scalar @{$s->{contacts}}, 4, 'one contact per chat');
    is_deeply($t->sql(q{SELECT state, count(*) FROM wa_inbound GROUP BY state}), [['posted', 40]],
              'all settled as posted');
    my $faults = grep { $_->{fault} } @{$s->{requests}};
    ok($faults > 5, "the fake injected $faults faults");
    $t->finish;
}

done_testing;
