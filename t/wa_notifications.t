# Group changes and identity changes from WhatsApp's notifications, through
# nginx, a live session and the loopback WhatsApp server (issue 10):
#  (a) a group renamed (<notification type="w:gp2"><subject>): the cached
#      group info is dropped, so our next reply asks for it again and still
#      reaches every member exactly once, and the group's Chatwoot contact,
#      made by the first message a member writes after that, carries the
#      new subject, not the cached one;
#  (b) a participant added: our next reply reaches the new member's devices
#      (our sender key to them first); a participant removed: our sender key
#      is renewed, so the next reply reaches the members that remain and
#      the removed one, who still has the old key, can read none of it (the
#      mock tries: event leaked);
#  (c) a contact's identity changes (a reinstall; <notification
#      type="encrypt"><identity/>): our sessions with its devices are
#      dropped, so our next reply is a pkmsg on a new session that each of
#      its devices decrypts at once, no retry asked; its devices lost our
#      sender key too, so the next group reply hands it out again.
# Nothing refused, nothing undecryptable, throughout.
use strict;
use warnings;
use utf8;
use lib 't/lib';
use ChatwootTest;
use ChatwootTest::WaMock;
use ChatwootTest::FakeChatwoot;
use ChatwootTest::Payloads qw(message_created for_chat);
use JSON::PP;
use Test::More;

my $JSON = JSON::PP->new->canonical->utf8;
binmode(Test::More->builder->$_, ':encoding(UTF-8)') for qw(output failure_output todo_output);
my $t = ChatwootTest->new;
my ($port, $wa) = $t->start_wa;
my $fake = $t->{wa_setup}{fake};
my $p = $t->pair_qr($wa, 'main');
$wa->wait(type => 'passive', conn => $p->{login}{conn});
(my $our_phone = $p->{sent}{lid}) =~ s/:\d+\@/\@/;   # our account's device 0, on its LID
my $start = $wa->last_seq;

my $ana = $wa->wa_contact('4915100000001', devices => [0, 2], name => 'Ana');
my $bo = $wa->wa_contact('4915100000002', name => 'Bo');
my $cy = $wa->wa_contact('4915100000003', devices => [0, 4], name => 'Cy');
my $lid_user = sub { (my $u = $_[0]) =~ s/\@lid$//; $u };
my @ana = ($ana->{lid}, $lid_user->($ana->{lid}) . ":2\@lid");
my @cy = ($cy->{lid}, $lid_user->($cy->{lid}) . ":4\@lid");

sub outbox_state {
    my ($message_id) = @_;
    return $t->sql(qq{SELECT state FROM outbox WHERE chatwoot_message_id = $message_id})->[0][0] // '';
}
# An agent's reply into `chat` (conversation `conv`): waits until every
# device in `to` decrypted it and the entry is sent; returns its WhatsApp id.
sub reply {
    my (%o) = @_;
    my $since = $wa->last_seq;
    my ($code, undef, $why) = $t->webhook($port, for_chat(message_created(id => $o{id}, conversation => $o{conv},
                                                                         content => $o{text}), $o{chat}));
    is($code, 202, "$o{what}: accepted") or diag $why;
    my %got;
    for my $to (@{$o{to}}) {
        $got{$to} = $wa->wait_match('delivered', to => $to, since => $since, timeout => 20);
        like($got{$to}{message}{conversation} // $got{$to}{message}{extendedTextMessage}{text} // '',
             qr/\Q$o{text}\E\z/, "$o{what}: $to reads it");
    }
    $t->wait_for(sub { outbox_state($o{id}) eq 'sent' }, 15, "$o{what}: sent once the server acked it");
    my $id = $got{$o{to}[0]}{id};
    is_deeply($wa->deliveries($id), { map { $_ => 1 } @{$o{to}} }, "$o{what}: each device exactly once, no other")
        or diag explain $wa->deliveries($id);
    is_deeply([grep { $_->{id} eq $id } @{$wa->events(type => 'refused', since => $since)}], [],
              "$o{what}: the server took our device set");
    return ($id, \%got, $since);
}
sub group_infos { scalar grep { $_->{jid} eq $_[0] } @{$wa->events(type => 'group-info', since => $_[1] // 0)} }
sub group_contact {
    my ($jid) = @_;
    my ($c) = grep { ($_->{identifier} // '') eq $jid } @{ChatwootTest::FakeChatwoot->get_state($fake)->{contacts}};
    return $c;
}

# --- (a) a group renamed ----------------------------------------------------
my $g = $wa->wa_group(subject => 'Before', addressing_mode => 'lid', participants => [$ana->{pn} =~ s/\@.*//r, '4915100000002']);
my @members = (@ana, $bo->{lid}, $our_phone);
reply(id => 9001, conv => 31, chat => $g->{jid}, text => 'first into the group', to => \@members,
      what => 'the first group reply');
is(group_infos($g->{jid}), 1, 'the group info was asked for once and is cached');
reply(id => 9002, conv => 31, chat => $g->{jid}, text => 'from the cache', to => \@members, what => 'a second group reply');
is(group_infos($g->{jid}), 1, 'the second reply used the cached info');

is($wa->wa_group_subject($g->{jid}, 'After — renamed', author => '4915100000002')->{notified}, 1,
   'the group is renamed: our companion is told');
$t->wait_log(qr/WhatsApp group \Q$g->{jid}\E changed \(subject\): its cached info dropped$/m, 1);
my (undef, undef, $since) = reply(id => 9003, conv => 31, chat => $g->{jid}, text => 'after the rename', to => \@members,
                                  what => 'the reply after the rename');
is(group_infos($g->{jid}, $since), 1, 'which asked for the group info again');

# The group's Chatwoot contact is made by the first message a member writes
# (our replies went to a conversation Chatwoot already had): it is named
# after the subject WhatsApp gives now.
ok(!group_contact($g->{jid}), 'no Chatwoot contact for the group yet');
my $gm = $wa->wa_message(from => '4915100000002', chat => $g->{jid}, message => { conversation => 'Bo in the group' });
my $gc = $t->wait_for(sub { group_contact($g->{jid}) }, 20, 'the group\'s Chatwoot contact');
is($gc->{name}, 'After — renamed', 'it carries the new subject');

# --- (b) a participant added, then one removed -------------------------------
my $r = $wa->wa_group_participants($g->{jid}, add => ['4915100000003']);
is_deeply($r->{added}, ['4915100000003'], 'Cy is added');
$t->wait_log(qr/WhatsApp group \Q$g->{jid}\E changed \(add\): its cached info dropped$/m, 1);
@members = (@ana, $bo->{lid}, @cy, $our_phone);
reply(id => 9004, conv => 31, chat => $g->{jid}, text => 'welcome Cy', to => \@members,
      what => 'the reply after an add');

$r = $wa->wa_group_participants($g->{jid}, remove => ['4915100000002']);
is_deeply($r->{removed}, ['4915100000002'], 'Bo is removed');
$t->wait_log(qr/WhatsApp group \Q$g->{jid}\E changed \(remove\): its cached info dropped; our sender key renewed for the next message$/m, 1);
@members = (@ana, @cy, $our_phone);
my ($after_remove, undef, $s2) = reply(id => 9005, conv => 31, chat => $g->{jid}, text => 'without Bo', to => \@members,
                                       what => 'the reply after a remove');
ok(!exists $wa->deliveries($after_remove)->{$bo->{lid}}, 'Bo got nothing of it');
is_deeply($wa->events(type => 'leaked', since => $s2), [], 'and cannot read it with the sender key he kept');

# --- (c) a contact's identity changes ---------------------------------------
my ($dm1) = reply(id => 9101, conv => 32, chat => $ana->{pn}, text => 'a DM to Ana', to => [@ana, $our_phone],
                  what => 'a DM before the change');
my $n = $wa->wa_new_identity('4915100000001');
is($n->{notified}, 1, 'Ana reinstalls: our companion is told');
$t->wait_log(qr/the WhatsApp identity of \Q$ana->{lid}\E changed: [1-9]\d* session\(s\) dropped/m, 1);
my ($dm2, $got) = reply(id => 9102, conv => 32, chat => $ana->{pn}, text => 'after her reinstall', to => [@ana, $our_phone],
                        what => 'the DM after the change');
for my $d (@ana) {
    is($got->{$d}{enc}, 'pkmsg', "$d: a pkmsg on a new session");
    ok(!$got->{$d}{retry}, "$d: at once, not as a retry");
}
reply(id => 9006, conv => 31, chat => $g->{jid}, text => 'Ana has our key again', to => \@members,
      what => 'the group reply after her reinstall');

# The same, named by phone number: Cy's identity, notified from his PN.
reply(id => 9103, conv => 33, chat => $cy->{pn}, text => 'a DM to Cy', to => [@cy, $our_phone], what => 'a DM to Cy');
$wa->wa_new_identity('4915100000003', addressing => 'pn');
$t->wait_log(qr/the WhatsApp identity of 4915100000003\@s\.whatsapp\.net changed: [1-9]\d* session\(s\) dropped/m, 1);
(undef, $got) = reply(id => 9104, conv => 33, chat => $cy->{pn}, text => 'Cy again', to => [@cy, $our_phone],
                      what => 'the DM to Cy after his change');
for my $d (@cy) {
    is($got->{$d}{enc}, 'pkmsg', "$d: a pkmsg on a new session");
    ok(!$got->{$d}{retry}, "$d: at once, not as a retry");
}

is_deeply($wa->events(type => 'undecryptable', since => $start), [], 'nothing was undecryptable');
is_deeply($wa->events(type => 'refused', since => $start), [], 'nothing was refused');
is_deeply($wa->events(type => 'leaked', since => $start), [], 'nothing leaked to a former member');

$wa->stop;
done_testing;
