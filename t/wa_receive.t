# WhatsApp -> Chatwoot through a live session: the loopback WhatsApp
# server's contacts (an independent Signal implementation, libsignal-node
# and Baileys) write to our paired device; the helper decrypts, stores and
# receipts each message, and the fake Chatwoot gets it once, in the right
# conversation.  Covers 1:1 pkmsg then msg, a group (SKDM then skmsg), a
# reply, a reaction, an edit, a revoke, a location, a contact card, our
# phone's own message (mirrored as outgoing), one contact first by PN then
# by LID (one chat), garbage once (a retry receipt, then the resend
# decrypts), garbage always (the placeholder after the retry limit), and a
# kill -9 of the helper between keep and receipt (no loss, no duplicate).
use strict;
use warnings;
use utf8;
use lib 't/lib';
use ChatwootTest;
use ChatwootTest::WaMock;
use ChatwootTest::FakeChatwoot;
use JSON::PP;
use Test::More;

my $t = ChatwootTest->new;
$t->allow_log(qr/cache manager process \d+ exited on signal 9/);
my ($port, $wa) = $t->start_wa;
my $fake = $t->{wa_setup}{fake};
my $p = $t->pair_qr($wa, 'main');
my $conn = $p->{login}{conn};
$wa->wait(type => 'passive', conn => $conn);
my $me = $p->{device}{pn_jid} =~ s/:\d+\@.*//r;

# Every message in the fake Chatwoot by its WhatsApp id (source_id WAID:<id>):
# { id => [ { content, message_type, conversation, contact identifier } ... ] }.

# Waits until Chatwoot has message $id; returns its one copy.
sub in_chatwoot {
    my ($id, $what) = @_;
    my $m = $t->wait_for(sub { ChatwootTest::FakeChatwoot->messages_by_waid($fake)->{$id} }, 20, "$what in Chatwoot");
    is(scalar @$m, 1, "$what: once in Chatwoot");
    return $m->[0];
}

# The wa_inbound record of WhatsApp id $id (for kinds the Chatwoot side
# maps on its own: reaction, edit, revoke, read).
sub inbound_record {
    my ($id, $what) = @_;
    my $rows = $t->wait_for(sub {
        my $r = $t->sql("SELECT record FROM wa_inbound WHERE wa_id = '$id'");
        @$r ? $r : undef;
    }, 20, "$what stored");
    is(scalar @$rows, 1, "$what: one row");
    return decode_json($rows->[0][0]);
}

# --- 1:1: pkmsg, then msg -------------------------------------------------
my $ana = $wa->wa_contact('4915100000001', name => 'Ana');
my $since = $wa->last_seq;
my $m1 = $wa->wa_message(from => '4915100000001', message => { conversation => 'hello from Ana' }, push_name => 'Ana');
my $sent1 = $wa->wait(type => 'message-sent', id => $m1->{id}, since => $since);
is_deeply($sent1->{enc}, ['pkmsg'], 'the first message is a pkmsg');
my $rc1 = $wa->wait_receipt_in(id => $m1->{id}, since => $since);
is($rc1->{receipt_type}, 'delivery', 'a delivery receipt for it');
my $c1 = in_chatwoot($m1->{id}, 'the pkmsg');
is($c1->{content}, 'hello from Ana', 'its text');
is($c1->{contact}, '4915100000001@s.whatsapp.net', 'in the contact\'s conversation (PN)');

$since = $wa->last_seq;
my $m2 = $wa->wa_message(from => '4915100000001', message => { conversation => 'second one' });
# Until our device answers, the contact's session stays unacknowledged and
# its messages pkmsg (Signal's rule); the same session decrypts them.  A
# msg arrives after a reply (the send path's test) and in the retry below.
is_deeply($wa->wait(type => 'message-sent', id => $m2->{id}, since => $since)->{enc}, ['pkmsg'],
          'the next one on the same unanswered session');
my $c2 = in_chatwoot($m2->{id}, 'the msg');
is($c2->{content}, 'second one', 'its text');
is($c2->{conversation}, $c1->{conversation}, 'same conversation');

# --- reply, reaction, edit, revoke -----------------------------------------
my $reply = $wa->wa_message(from => '4915100000001', message => {
    extendedTextMessage => { text => 'answering', contextInfo => { stanzaId => $m1->{id}, participant => '4915100000001@s.whatsapp.net' } } });
my $cr = in_chatwoot($reply->{id}, 'the reply');
is($cr->{content}, 'answering', 'the reply\'s text');
my $rr = inbound_record($reply->{id}, 'the reply');
is($rr->{reply_to}, $m1->{id}, 'quoting the first message');

my $react = $wa->wa_message(from => '4915100000001', message => {
    reactionMessage => { key => { remoteJid => "$me\@s.whatsapp.net", fromMe => JSON::PP::false, id => $m1->{id} }, text => "\x{1F44D}" } });
my $rx = inbound_record($react->{id}, 'the reaction');
is($rx->{kind}, 'reaction', 'a reaction row');
is($rx->{target}, $m1->{id}, 'on the first message');
is($rx->{text}, "\x{1F44D}", 'with its emoji');

my $edit = $wa->wa_message(from => '4915100000001', message => {
    protocolMessage => { key => { remoteJid => "$me\@s.whatsapp.net", fromMe => JSON::PP::true, id => $m2->{id} },
                         type => 'MESSAGE_EDIT', editedMessage => { conversation => 'second one, fixed' } } });
my $ex = inbound_record($edit->{id}, 'the edit');
is($ex->{kind}, 'edit', 'an edit row');
is($ex->{target}, $m2->{id}, 'of the second message');
is($ex->{text}, 'second one, fixed', 'with the new text');

my $revoke = $wa->wa_message(from => '4915100000001', message => {
    protocolMessage => { key => { remoteJid => "$me\@s.whatsapp.net", fromMe => JSON::PP::true, id => $reply->{id} }, type => 'REVOKE' } });
my $vx = inbound_record($revoke->{id}, 'the revoke');
is($vx->{kind}, 'revoke', 'a revoke row');
is($vx->{target}, $reply->{id}, 'of the reply');

# --- location and contact card ---------------------------------------------
my $loc = $wa->wa_message(from => '4915100000001', message => {
    locationMessage => { degreesLatitude => 52.52, degreesLongitude => 13.405, name => 'Alexanderplatz', address => '10178 Berlin' } });
is(in_chatwoot($loc->{id}, 'the location')->{content},
   "\x{1F4CD} Alexanderplatz\n10178 Berlin\nhttps://maps.google.com/?q=52.52,13.405", 'the location as text with a maps link');
my $card = $wa->wa_message(from => '4915100000001', message => {
    contactMessage => { displayName => 'Bob Builder', vcard => "BEGIN:VCARD\nVERSION:3.0\nFN:Bob Builder\nTEL;type=CELL;waid=4915100000099:+49 151 00000099\nEND:VCARD" } });
is(in_chatwoot($card->{id}, 'the contact card')->{content}, "\x{1F464} Bob Builder\n+49 151 00000099",
   'the contact card as its name and number');

# --- a group: SKDM (pkmsg) then skmsg ---------------------------------------
$wa->wa_contact('4915100000002', name => 'Ben');
my $g = $wa->wa_group(subject => 'Team', addressing_mode => 'lid', participants => ['4915100000001', '4915100000002']);
$since = $wa->last_seq;
my $gm = $wa->wa_message(from => '4915100000002', chat => $g->{jid}, message => { conversation => 'hi team' }, push_name => 'Ben');
is_deeply($wa->wait(type => 'message-sent', id => $gm->{id}, since => $since)->{enc}, ['pkmsg', 'skmsg'],
          'a group message: the sender key, then the skmsg');
my $cg = in_chatwoot($gm->{id}, 'the group message');
is($cg->{contact}, $g->{jid}, 'in the group\'s conversation');
my ($gcontact) = grep { ($_->{identifier} // '') eq $g->{jid} } @{ChatwootTest::FakeChatwoot->get_state($fake)->{contacts}};
is($gcontact->{name}, 'Team', 'the group\'s contact is named after its subject');
like($cg->{content}, qr/hi team/, 'its text');
my $rg = $wa->wait_receipt_in(id => $gm->{id}, since => $since);
is($rg->{to}, $g->{jid}, 'the receipt goes to the group');
ok($rg->{participant}, 'naming the participant');
$since = $wa->last_seq;
my $gm2 = $wa->wa_message(from => '4915100000002', chat => $g->{jid}, message => { conversation => 'again' });
is_deeply($wa->wait(type => 'message-sent', id => $gm2->{id}, since => $since)->{enc}, ['skmsg'],
          'the next group message: the skmsg alone');
like(in_chatwoot($gm2->{id}, 'the second group message')->{content}, qr/again/, 'decrypted with the kept sender key');

# --- our phone's own message: mirrored as outgoing --------------------------
my $peer = $wa->wa_peer_message(chat => '4915100000001@s.whatsapp.net', message => { conversation => 'typed on my phone' });
my $cp = in_chatwoot($peer->{id}, 'our phone\'s message');
is($cp->{content}, 'typed on my phone', 'its text');
is($cp->{message_type}, 1, 'as an outgoing message');
is($cp->{conversation}, $c1->{conversation}, 'in the contact\'s conversation, not ours');

# --- one person: PN first, then LID -----------------------------------------
my $cem = $wa->wa_contact('4915100000003', name => 'Cem');
my $pn1 = $wa->wa_message(from => '4915100000003', message => { conversation => 'as my number' });
my $cpn = in_chatwoot($pn1->{id}, 'Cem by PN');
my $ln1 = $wa->wa_message(from => '4915100000003', addressing => 'lid', message => { conversation => 'as my lid' });
my $cln = in_chatwoot($ln1->{id}, 'Cem by LID');
is($cln->{contact}, '4915100000003@s.whatsapp.net', 'the LID message goes to the PN contact');
is($cln->{conversation}, $cpn->{conversation}, 'in the same conversation');
my $contacts = ChatwootTest::FakeChatwoot->get_state($fake)->{contacts};
is(scalar(grep { ($_->{identifier} // '') =~ /^(?:4915100000003\@|\Q$cem->{lid}\E)/ } @$contacts), 1,
   'one Chatwoot contact for Cem');

# --- garbage once: a retry receipt, then the resend decrypts ---------------
$since = $wa->last_seq;
my $bad = $wa->wa_message(from => '4915100000001', garbage => 'once', message => { conversation => 'through the noise' });
my $retry = $wa->wait(type => 'retry-receipt', id => $bad->{id}, since => $since);
is($retry->{count}, 1, 'an undecryptable message: a retry receipt, count 1');
is(in_chatwoot($bad->{id}, 'the resent message')->{content}, 'through the noise', 'the resend decrypts');

# --- garbage always: the placeholder after the limit ------------------------
$since = $wa->last_seq;
my $lost = $wa->wa_message(from => '4915100000001', garbage => 'always', message => { conversation => 'never readable' });
my $cl = in_chatwoot($lost->{id}, 'the undecryptable message');
like($cl->{content}, qr/could not be decrypted/, 'a placeholder says so');
my @retries = @{$wa->events(type => 'retry-receipt', id => $lost->{id}, since => $since)};
is_deeply([map { $_->{count} } @retries], [1, 2, 3, 4], 'after four retry receipts');
ok(!$retries[0]{keys} && $retries[1]{keys}, 'our keys from the second on');
ok($wa->wait_receipt_in(id => $lost->{id}, receipt_type => 'delivery', since => $since), 'then a plain receipt');

# --- receipts and notifications --------------------------------------------
# A contact read our messages: a read row for the Chatwoot side.
$wa->wa_receipt(from => '4915100000001', ids => ['OURMSG1', 'OURMSG2'], type => 'read');
my $read = $t->wait_for(sub {
    my $r = $t->sql(q{SELECT record FROM wa_inbound WHERE wa_id LIKE 'read:OURMSG1:%'});
    @$r ? decode_json($r->[0][0]) : undef;
}, 20, 'the read receipt stored');
is($read->{kind}, 'read', 'a read receipt: a read row');
is_deeply($read->{targets}, ['OURMSG1', 'OURMSG2'], 'naming every message read');
is($read->{chat}, '4915100000001@s.whatsapp.net', 'in the contact\'s chat');

# A privacy token: kept under the contact's LID.
my $tok = $wa->wa_privacy_token('4915100000001', token_hex => 'a1' x 16, t => 1790000000);
$t->wait_for(sub { @{$t->sql(qq{SELECT 1 FROM wa_privacy_tokens WHERE lid = '$ana->{lid}' AND t = 1790000000})} }, 20,
             'the token stored');
is($t->sql(qq{SELECT lower(hex(token)) FROM wa_privacy_tokens WHERE lid = '$ana->{lid}'})->[0][0], 'a1' x 16,
   'a privacy token: kept under the LID');

# A device-list change: the cached list is dropped.
$t->sql(q{INSERT INTO wa_device_lists (device, user, devices, fetched_at)
          VALUES ('main', '4915100000002@s.whatsapp.net', '0', 1)});
$wa->wa_contact_devices('4915100000002', [0, 3]);
$t->wait_for(sub { !@{$t->sql(q{SELECT 1 FROM wa_device_lists WHERE user = '4915100000002@s.whatsapp.net'})} }, 20,
             'the device list dropped');
ok(1, 'a devices notification: the cached device list dropped');

# The account's reach-out time lock: a warning, and the status shows it.
$wa->wa_restriction(kind => 'reachout_timelock', active => 1, ends => 1783343326, enforcement_type => 'RESTRICT_ALL_COMPANIONS');
my $st = $t->wait_for(sub { my $s = eval { $t->status }; $s && ($s->{devices}[0]{restriction} // '') ne '' ? $s : undef },
                      20, 'the restriction in the status');
like($st->{devices}[0]{restriction}, qr/reach-out time lock.*RESTRICT_ALL_COMPANIONS.*2026-07-06/,
     'a reach-out time lock: in GET status with its end');
ok(eval { $t->wait_log(qr/\[warn\].*inbox "main".*reach-out time lock/) }, 'and logged at warn') or diag $@;
$wa->wa_restriction(kind => 'reachout_timelock', active => 0);
$t->wait_for(sub { my $s = eval { $t->status }; $s && ($s->{devices}[0]{restriction} // 'x') eq '' }, 20,
             'the restriction lifted');
ok(1, 'lifted: the status shows none');
$wa->wa_restriction(kind => 'new_chat_capping', state => 'CAPPED', used => 5, total => 5, ends => 1783343326);
$st = $t->wait_for(sub { my $s = eval { $t->status }; $s && ($s->{devices}[0]{restriction} // '') =~ /caps/ ? $s : undef },
                   20, 'new-chat capping in the status');
like($st->{devices}[0]{restriction}, qr/CAPPED, 5 of 5 used\).*2026-07-06/, 'with its quota and the end of its cycle');
$wa->wa_restriction(kind => 'new_chat_capping', state => 'NONE');
$t->wait_for(sub { my $s = eval { $t->status }; $s && ($s->{devices}[0]{restriction} // 'x') eq '' }, 20,
             'capping lifted');

# --- kill -9 of the helper in the middle of a burst --------------------------
# The helper is frozen while 60 messages reach its socket, let go, and
# killed as soon as it has kept the first: some are then kept and
# receipted, some kept with the receipt owed, some kept but not handled,
# the rest not kept (the server redelivers those).  Afterwards each is in
# Chatwoot once and receipted.
my $helper = $t->status->{helper}{pid};
my $kept_before = $t->sql(q{SELECT count(*) FROM wa_stanzas})->[0][0];
kill 'STOP', $helper;
my @burst = map { $wa->wa_message(from => '4915100000002', message => { conversation => "burst $_" })->{id} } 1 .. 60;
kill 'CONT', $helper;
my $deadline = time + 20;
my $kept = 0;
while (time < $deadline) {
    $kept = $t->sql(q{SELECT count(*) FROM wa_stanzas})->[0][0] - $kept_before;
    last if $kept > 0;
}
kill 'KILL', $helper;
note("kept before the kill: $kept of " . scalar @burst);
$t->wait_for(sub { my $s = eval { $t->status }; $s && $s->{helper}{pid} && $s->{helper}{pid} != $helper }, 30,
             'a new helper');
my $all = $t->wait_for(sub { my $m = ChatwootTest::FakeChatwoot->messages_by_waid($fake); (grep { $m->{$_} } @burst) == @burst ? $m : undef },
                       60, 'every message of the burst in Chatwoot');
is_deeply([map { scalar @{$all->{$_}} } @burst], [(1) x @burst], 'each once, none lost');
is_deeply([map { $all->{$_}[0]{content} } @burst], [map { "burst $_" } 1 .. 60], 'each with its text, in order');
for my $id (@burst) {
    $t->wait_for(sub { grep { ($_->{receipt_type} // '') eq 'delivery' } @{$wa->events(type => 'receipt-in', id => $id)} },
                 30, "a receipt for $id");
}
ok(1, 'every message of the burst receipted');
is($t->sql(q{SELECT count(*) FROM wa_stanzas WHERE done_at IS NULL OR receipt IS NOT NULL})->[0][0], 0,
   'no stanza left unhandled, no receipt owed');
note(sprintf 'burst: %d redelivered after the kill',
     scalar grep { my $id = $_; @{$wa->events(type => 'message-redelivered', id => $id)} } @burst);

is_deeply($wa->events(type => 'refused'), [], 'the mock refused nothing the device sent');
$t->finish;
done_testing;
