# Agent replies to WhatsApp through a live device (issue 10, the send path),
# against the loopback WhatsApp server whose contacts and phone are Signal
# parties of their own: a reply to a phone number goes LID-first to each of
# the contact's devices and to our phone (as a device-sent copy), each
# decrypting it exactly once; a quote points at the message it answers; a
# deletion revokes; a group reply is one skmsg with our sender key handed
# out once; 463 marks the reply failed in Chatwoot with a reason an agent
# understands and is not retried; a recipient's retry receipt gets the
# message again on that device.  (Typing and read receipts are covered by
# t/unit/message_sender_test.cpp until the bridge turns webhooks into them.)
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest qw(free_port);
use ChatwootTest::FakeChatwoot;
use ChatwootTest::Payloads qw(message_created message_updated for_chat);
use JSON::PP qw(encode_json);
use Mojo::UserAgent;
use Test::More;

my $JSON = JSON::PP->new->canonical->utf8;
my $t = ChatwootTest->new;
my ($port, $wa) = $t->start_wa;
my $p = $t->pair_qr($wa, 'main');
$wa->wait(type => 'passive', conn => $p->{login}{conn});
(my $our_phone = $p->{sent}{lid}) =~ s/:\d+\@/\@/;   # our account's device 0, on its LID

my $ana = $wa->wa_contact('4915100000001', devices => [0, 2], name => 'Ana');
(my $ana_lid = $ana->{lid}) =~ s/\@lid$//;
my @ana_devices = ($ana->{lid}, "$ana_lid:2\@lid");

sub webhook_ok {
    my ($body, $what) = @_;
    my ($code, undef, $why) = $t->webhook($port, $body);
    is($code, 202, "$what: accepted") or diag $why;
}
sub outbox_state {
    my ($message_id) = @_;
    return $t->sql(qq{SELECT state FROM outbox WHERE chatwoot_message_id = $message_id})->[0][0] // '';
}

# 1. A reply to Ana's phone number: each of her devices and our phone get it once.
my $since = $wa->last_seq;
webhook_ok(message_created(id => 7001, conversation => 15, phone => '+4915100000001', content => 'Hello Ana'),
           'a reply to a phone number');
my %got;
for my $to (@ana_devices, $our_phone) {
    $got{$to} = $wa->wait_delivered(to => $to, since => $since, timeout => 20);
}
my $id = $got{$ana->{lid}}{id};
ok($id, "the reply went as WhatsApp message $id");
is($got{$_}{id}, $id, "$_ got the same id") for @ana_devices, $our_phone;
is($got{$ana->{lid}}{chat}, $ana->{lid}, 'addressed to her LID (LID-first)');
like($got{$ana->{lid}}{message}{conversation}, qr/\n\nHello Ana\z/, 'her main device reads the signed text');
like($got{"$ana_lid:2\@lid"}{message}{conversation}, qr/\n\nHello Ana\z/, 'her second device too');
# (The mock unwraps our phone's DeviceSentMessage after checking that its
# destinationJid names Ana's chat; it refuses the message otherwise.)
like($got{$our_phone}{message}{conversation}, qr/\n\nHello Ana\z/, 'our phone reads its device-sent copy');
$t->wait_for(sub { outbox_state(7001) eq 'sent' }, 15, 'the reply is sent once the server acked it');
is_deeply($wa->deliveries($id), { map { $_ => 1 } @ana_devices, $our_phone }, 'each device decrypted it exactly once');
is_deeply($wa->events(type => 'refused', since => $since), [], 'the server refused nothing');

# 2. A quote of that message.
$since = $wa->last_seq;
webhook_ok(message_created(id => 7002, conversation => 15, phone => '+4915100000001', content => 'See above',
                           content_attributes => { in_reply_to => 7001, in_reply_to_external_id => "WAID:$id" }),
           'a reply quoting the first');
my $quote = $wa->wait_delivered(to => $ana->{lid}, since => $since, timeout => 20);
my $ctx = $quote->{message}{extendedTextMessage}{contextInfo} // {};
like($quote->{message}{extendedTextMessage}{text}, qr/See above\z/, 'the quote carries the text');
is($ctx->{stanzaId}, $id, 'and points at the quoted message');

# 3. The agent deletes the first reply: revoked on WhatsApp.
$since = $wa->last_seq;
webhook_ok(message_updated(id => 7001, conversation => 15, phone => '+4915100000001',
                           content => 'This message was deleted', content_attributes => { deleted => JSON::PP::true }),
           'a deletion');
my $revoke = $wa->wait_delivered(to => $ana->{lid}, since => $since, timeout => 20);
my $pm = $revoke->{message}{protocolMessage} // {};
is($pm->{key}{id}, $id, 'the revoke names the deleted message');
ok(!defined $pm->{type} || $pm->{type} eq 'REVOKE' || $pm->{type} eq '0', 'as a REVOKE');

# 5. Ana's second device lost our session: its retry receipt (the mock
# names the device by its PN) gets the reply again, on that device only.
my $quote_id = $quote->{id};
$since = $wa->last_seq;
$wa->wa_retry(from => '4915100000001', device => 2, id => $quote_id, fresh_session => 1);
my $dev2 = qr/^(?:\Q$ana_lid\E:2\@lid|4915100000001:2\@s\.whatsapp\.net)$/;
my $again = $t->wait_for(sub {
    my ($e) = grep { $_->{type} =~ /delivered$/ } @{$wa->events(id => $quote_id, since => $since)};
    $e;
}, 20, 'the message delivered again');
like($again->{to}, $dev2, 'to the device that asked (under its LID: one session per device)');
like($again->{message}{extendedTextMessage}{text}, qr/See above\z/, 'which now reads it');
is(scalar(grep { $_->{type} =~ /delivered$/ } @{$wa->events(id => $quote_id, since => $since)}), 1,
   'no other device got it again');
ok($again->{retry}, 'recorded as a retry');
is_deeply($wa->events(type => 'refused', since => $since), [], 'a resend to one device is no stale fan-out');

# 6. A group reply: one skmsg, our sender key to each member device once.
my $bo = $wa->wa_contact('4915100000002', name => 'Bo');
my $g = $wa->wa_group(subject => 'Team', addressing_mode => 'lid', participants => ['4915100000001', '4915100000002']);
# Our phone is a member device too: it gets the skmsg like the others.
my @members = (@ana_devices, $bo->{lid}, $our_phone);
my $group_id;
for my $n (1, 2) {
    $since = $wa->last_seq;
    webhook_ok(for_chat(message_created(id => 7100 + $n, conversation => 16, content => "group $n"), $g->{jid}),
               "group reply $n");
    for my $to (@members) {
        my $d = $wa->wait_match('delivered', to => $to, enc => 'skmsg', since => $since, timeout => 20);
        like($d->{message}{conversation}, qr/group $n\z/, "group reply $n: $to reads it from the skmsg");
    }
    $t->wait_for(sub { outbox_state(7100 + $n) eq 'sent' }, 15, "group reply $n sent");
    my ($first) = grep { $_->{to} eq $members[0] } @{$wa->events(type => 'delivered', since => $since)};
    $group_id = $first->{id};
    is_deeply($wa->deliveries($first->{id}), { map { $_ => 1 } @members }, "group reply $n: each member device once");
    is_deeply([grep { $_->{stale} } @{$wa->events(type => 'refused', since => $since)}], [],
              "group reply $n: the server took our device set");
}

# Ana's second device lost the group reply: its retry receipt (participant=
# its PN) gets the reply in a 1:1 enc to that device only, our sender key
# along, as whatsmeow answers (participant=, a bare <enc count>).
$since = $wa->last_seq;
$wa->wa_retry(from => '4915100000001', device => 2, id => $group_id, fresh_session => 1);
my $gagain = $wa->wait_match('delivered', id => $group_id, to => "$ana_lid:2\@lid", since => $since, timeout => 20);
ok($gagain->{retry}, 'the group reply again to the device that asked, as a retry');
like($gagain->{message}{conversation}, qr/group 2\z/, 'which reads it');
is_deeply($wa->deliveries($group_id, since => $since), { "$ana_lid:2\@lid" => 1 }, 'no other member got it again');
is_deeply($wa->events(type => 'refused', since => $since), [], 'the server took the resend');

# A PN-addressed group: the same, on phone numbers.
my $gp = $wa->wa_group(subject => 'Old team', addressing_mode => 'pn', participants => ['4915100000001', '4915100000002']);
$since = $wa->last_seq;
webhook_ok(for_chat(message_created(id => 7103, conversation => 19, content => 'pn group'), $gp->{jid}),
           'a reply to a PN-addressed group');
for my $to ('4915100000001@s.whatsapp.net', '4915100000001:2@s.whatsapp.net', '4915100000002@s.whatsapp.net') {
    my $d = $wa->wait_match('delivered', to => $to, enc => 'skmsg', since => $since, timeout => 20);
    like($d->{message}{conversation}, qr/pn group\z/, "PN group: $to reads it");
    is($d->{addressing}, 'pn', "PN group: $to addressed by phone number");
}
$t->wait_for(sub { outbox_state(7103) eq 'sent' }, 15, 'the PN group reply sent');

# 7. A contact under the first-contact limit: 463, failed in Chatwoot with the reason, not retried.
my $cy = $wa->wa_contact('4915100000003', name => 'Cy');
$wa->wa_ack_policy(phone => '4915100000003', error => 463);
my $fake = $t->{wa_setup}{fake};
my $api = "http://127.0.0.1:$fake/api/v1/accounts/1";
my $ua = Mojo::UserAgent->new;
my %auth = (api_access_token => 'test-api-token');
my $contact = $ua->post("$api/contacts", \%auth => json => {
    inbox_id => 7, name => 'Cy', identifier => '4915100000003@s.whatsapp.net',
    phone_number => '+4915100000003', source_id => '4915100000003@s.whatsapp.net' })->res->json->{payload}{contact}{id};
my $conv = $ua->post("$api/conversations", \%auth => json => {
    inbox_id => 7, contact_id => $contact, source_id => '4915100000003@s.whatsapp.net' })->res->json->{id};
my $mid = $ua->post("$api/conversations/$conv/messages", \%auth => json => {
    content => 'Hi Cy', message_type => 'outgoing' })->res->json->{id};
$since = $wa->last_seq;
webhook_ok(message_created(id => $mid, conversation => $conv, phone => '+4915100000003', content => 'Hi Cy'),
           'a first message to a limited contact');
my $state = $t->wait_for(sub {
    my $s = ChatwootTest::FakeChatwoot->get_state($fake);
    my ($c) = grep { $_->{display_id} == $conv } @{$s->{conversations}};
    my ($m) = grep { $_->{id} == $mid && ($_->{status} // '') eq 'failed' } @{$c->{messages} // []};
    $m;
}, 20, 'the reply is marked failed in Chatwoot');
like($state->{content_attributes}{external_error} // '', qr/ask them to write first/, 'saying why, for the agent');
is(outbox_state($mid), 'failed', 'the outbox entry failed');
my $tries = grep { ($_->{node}{attrs}{to} // '') =~ /^\Q$cy->{lid}\E|^4915100000003/ }
    @{$wa->events(type => 'received', tag => 'message', since => $since)};
is($tries, 1, 'sent once, never retried');

# 8. Contacts that take DMs only with a trusted-contact token: the token
# they granted (kept under their LID) rides along; without one, a cstoken
# from the NCT salt does.  (The receive path stores the token from the
# contact's notification; the salt, which comes with history sync, the test
# puts where it is kept.)
my $now = time;
my $ed = $wa->wa_contact('4915100000005', name => 'Ed', requires_token => 1);
$wa->wa_privacy_token('4915100000005', token_hex => 'c0ffee0102030405', t => $now);
$t->wait_for(sub { $t->sql(q{SELECT count(*) FROM wa_privacy_tokens WHERE device = 'main' AND lid = ?
                              AND token = X'c0ffee0102030405'}, $ed->{lid})->[0][0] },
             15, 'the token it granted is kept under its LID');
$since = $wa->last_seq;
webhook_ok(message_created(id => 7201, conversation => 17, phone => '+4915100000005', content => 'token'),
           'a reply to a contact that needs a token');
like($wa->wait_delivered(to => $ed->{lid}, since => $since, timeout => 20)->{message}{conversation}, qr/token\z/,
     'with the tctoken it granted: delivered');
$t->wait_for(sub { outbox_state(7201) eq 'sent' }, 15, 'and sent');
my $issued = $t->wait_for(sub { $wa->events(type => 'token-issued', since => $since)->[0] }, 15, 'our token issued back');
like(encode_json($issued), qr/\Q$ed->{lid}\E/, 'our own token goes to them after the DM');

my $fy = $wa->wa_contact('4915100000006', name => 'Fy', requires_token => 1);
$wa->wa_nct_salt('000102030405060708090a0b0c0d0e0f');
$t->sql(q{INSERT INTO wa_device_values (device, key, value) VALUES ('main', 'nct_salt', X'000102030405060708090a0b0c0d0e0f')});
$since = $wa->last_seq;
webhook_ok(message_created(id => 7202, conversation => 18, phone => '+4915100000006', content => 'salted'),
           'a reply to a contact that needs a token, none granted');
like($wa->wait_delivered(to => $fy->{lid}, since => $since, timeout => 20)->{message}{conversation}, qr/salted\z/,
     'with a cstoken from the NCT salt: delivered');
$t->wait_for(sub { outbox_state(7202) eq 'sent' }, 15, 'and sent');
is_deeply([grep { !$_->{stale} } @{$wa->events(type => 'refused', since => $since)}], [], 'nothing refused');

$wa->stop;
done_testing;
