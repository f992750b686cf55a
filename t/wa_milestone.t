# Issue 10's milestone: WhatsApp messages end to end, exactly once, through
# real nginx, the fake Chatwoot and the loopback WhatsApp server (whose
# contacts are an independent Signal implementation).
#
# A paired device; three contacts: Lea with two devices (LID-addressed),
# Ben (PN-addressed) and Cem (LID-addressed); two groups, one LID- and one
# PN-addressed.  The contacts write texts, replies, a reaction, an edit, a
# revoke, a location and a contact card, and our own phone writes one:
# each appears in the fake Chatwoot exactly once, under the right contact
# (one per person), in the right conversation, with the right type and
# content, in the order written.  Then agents answer through signed
# webhooks, one with a quote and one deleted afterwards: every device of
# every recipient (and our phone) decrypts the right plaintext exactly
# once, the quote names the right message, and the deletion revokes it.
use strict;
use warnings;
use utf8;
use lib 't/lib';
use ChatwootTest;
use ChatwootTest::Exchange;
use ChatwootTest::FakeChatwoot;
use ChatwootTest::WaMock;
use JSON::PP;
use Test::More;

my $t = ChatwootTest->new;
my ($port, $wa) = $t->start_wa;
my $fake = $t->{wa_setup}{fake};
my $x = ChatwootTest::Exchange->new($t, fake => $fake, port => $port);
my $p = $t->pair_qr($wa, 'main');
$wa->wait(type => 'passive', conn => $p->{login}{conn});
my ($me) = $p->{device}{pn_jid} =~ /^(\d+)/;
my ($me_lid) = ($p->{device}{lid} // '') =~ /^(\d+)/;

# --- the world ---------------------------------------------------------------
my %who = (
    lea => $wa->wa_contact('4915200000001', name => 'Lea', devices => [0, 2]),
    ben => $wa->wa_contact('4915200000002', name => 'Ben'),
    cem => $wa->wa_contact('4915200000003', name => 'Cem'),
);
my %phone = (lea => '4915200000001', ben => '4915200000002', cem => '4915200000003');
my %name = (lea => 'Lea', ben => 'Ben', cem => 'Cem');
my %addressing = (lea => 'lid', ben => 'pn', cem => 'lid');
my %lid_to_pn = map { ($who{$_}{lid} =~ /^(\d+)/)[0] => $phone{$_} } keys %who;
$lid_to_pn{$me_lid} = $me if $me_lid;
my %group = (
    glid => $wa->wa_group(subject => 'Team (LID)', addressing_mode => 'lid',
                          participants => [@phone{qw(lea ben cem)}])->{jid},
    gpn  => $wa->wa_group(subject => 'Team (PN)', addressing_mode => 'pn',
                          participants => [@phone{qw(lea ben)}])->{jid},
);

# --- WhatsApp -> Chatwoot ---------------------------------------------------------
# What each message must become: conv (a person or a group key), content
# (exact), type (0 incoming, 1 outgoing), reply (the key of the message it
# replies to in Chatwoot), event (a revoke: no message of its own).
my (@expect, %id_of, %exp_by_key);

sub chat_jid { my ($k) = @_; $group{$k} // ($addressing{$k} eq 'lid' ? $who{$k}{lid} : $who{$k}{pn}) }

sub writes {
    my ($key, $from, %o) = @_;
    my $chat = delete $o{chat};
    my %e = (key => $key, conv => $chat // $from, type => 0, %o);
    my $r = $wa->wa_message(from => $phone{$from}, message => delete $e{message},
                            push_name => $name{$from}, device => delete $e{device} // 0,
                            $chat ? (chat => $group{$chat}) : (addressing => $addressing{$from}));
    $e{id} = $id_of{$key} = $r->{id};
    ok(scalar @{$r->{to}}, "$key: $from writes ($r->{id})");
    push @expect, \%e;
    $exp_by_key{$key} = \%e;
}

# A message key as the sender sees it (for quotes, reactions, edits, revokes).
sub key_of {
    my ($target, $from_me, $chat, $participant) = @_;
    return { remoteJid => $chat // "$me\@s.whatsapp.net", fromMe => $from_me ? JSON::PP::true : JSON::PP::false,
             id => $id_of{$target}, $participant ? (participant => $participant) : () };
}

writes(L1 => 'lea', message => { conversation => 'Hallo, hier ist Lea' }, content => 'Hallo, hier ist Lea');
writes(L2 => 'lea', device => 2, message => { conversation => 'und hier mein Tablet' },
       content => 'und hier mein Tablet');
writes(B1 => 'ben', message => { conversation => 'Moin' }, content => 'Moin');
writes(B2 => 'ben', message => { conversation => 'Bestellung 17 ist da' }, content => 'Bestellung 17 ist da');
writes(C1 => 'cem', message => { conversation => 'Servus' }, content => 'Servus');
writes(G1 => 'lea', chat => 'glid', device => 2, message => { conversation => 'Hallo Gruppe' },
       content => '**Lea:** Hallo Gruppe');
writes(G2 => 'ben', chat => 'glid', message => { conversation => 'Hi alle' }, content => '**Ben:** Hi alle');
writes(H1 => 'ben', chat => 'gpn', message => { conversation => 'PN-Gruppe hier' },
       content => '**Ben:** PN-Gruppe hier');
writes(L3 => 'lea', message => { extendedTextMessage => { text => 'zu meiner Tablet-Nachricht',
           contextInfo => { stanzaId => $id_of{L2}, participant => $who{lea}{lid} } } },
       content => 'zu meiner Tablet-Nachricht', reply => 'L2');
writes(B3 => 'ben', message => { protocolMessage => { key => key_of('B2', 1), type => 'MESSAGE_EDIT',
           editedMessage => { conversation => 'Bestellung 18 ist da' } } },
       content => '*Edited:* Bestellung 18 ist da', reply => 'B2');
writes(L4 => 'lea', device => 2, message => { reactionMessage => { key => key_of('L1', 1), text => "\x{1F44D}" } },
       content => "\x{1F44D}", reply => 'L1');
writes(C2 => 'cem', message => { locationMessage => { degreesLatitude => 48.1374, degreesLongitude => 11.5755,
           name => 'Marienplatz', address => '80331 München' } },
       content => "\x{1F4CD} Marienplatz\n80331 München\nhttps://maps.google.com/?q=48.1374,11.5755");
writes(B4 => 'ben', message => { contactMessage => { displayName => 'Dora Dach',
           vcard => "BEGIN:VCARD\nVERSION:3.0\nFN:Dora Dach\nTEL;type=CELL;waid=4915200000099:+49 152 00000099\nEND:VCARD" } },
       content => "\x{1F464} Dora Dach\n+49 152 00000099");
writes(B5 => 'ben', message => { conversation => 'vergiss das' }, content => 'This message was deleted', deleted => 1);
writes(B6 => 'ben', message => { protocolMessage => { key => key_of('B5', 1), type => 'REVOKE' } }, event => 1);
writes(G3 => 'cem', chat => 'glid', message => { extendedTextMessage => { text => 'Antwort an Lea',
           contextInfo => { stanzaId => $id_of{G1}, participant => $who{lea}{lid} } } },
       content => '**Cem:** Antwort an Lea', reply => 'G1');
writes(H2 => 'lea', chat => 'gpn', message => { reactionMessage => {
           key => key_of('H1', 0, $group{gpn}, $who{ben}{pn}), text => "\x{1F64F}" } },
       content => "**Lea:** \x{1F64F}", reply => 'H1');
{
    # Our own phone writes to Cem (by his LID): mirrored as outgoing.
    my $r = $wa->wa_peer_message(chat => $who{cem}{lid}, message => { conversation => 'vom Telefon geschickt' });
    $id_of{C3} = $r->{id};
    push @expect, $exp_by_key{C3} = { key => 'C3', id => $r->{id}, conv => 'cem', type => 1,
                                       content => 'vom Telefon geschickt' };
}
writes(C4 => 'cem', message => { extendedTextMessage => { text => 'danke dir',
           contextInfo => { stanzaId => $id_of{C3}, participant => "$me\@s.whatsapp.net" } } },
       content => 'danke dir', reply => 'C3');

my @posted = grep { !$_->{event} } @expect;
my $view = $t->wait_for(sub {
    my $v = $x->view;
    my @missing = grep { !$v->{by_waid}{$_->{id}} } @posted;
    my $b5 = $v->{by_waid}{$id_of{B5}};
    !@missing && $b5 && $b5->[0]{content_attributes}{deleted} ? $v : undef;
}, 90, 'every message in Chatwoot and the revoked one deleted');

# Exactly once, right conversation (one per person), right type and content.
my %conv;
for my $k (keys %who) {
    my @mine = grep { my $id = $_->{identifier} // ''; $id eq $who{$k}{pn} || $id eq $who{$k}{lid} }
               @{$view->{contacts}};
    is(scalar @mine, 1, "$name{$k}: one Chatwoot contact, whatever form (PN, LID) the messages came in")
        or diag explain [map { $_->{identifier} } @mine];
    $conv{$k} = $x->conversation_of($view, $who{$k}{pn}, $who{$k}{lid});
}
$conv{$_} = $x->conversation_of($view, $group{$_}) for keys %group;
ok($conv{$_}, "a conversation for $_") for sort keys %conv;
is(scalar @{$view->{contacts}}, 5, 'five Chatwoot contacts: three people, two groups')
    or diag explain [map { $_->{identifier} } @{$view->{contacts}}];

for my $e (@expect) {
    my $copies = $view->{by_waid}{$e->{id}} // [];
    if ($e->{event}) {
        is(scalar @$copies, 0, "$e->{key}: the revoke is no message of its own");
        next;
    }
    is(scalar @$copies, 1, "$e->{key}: once in Chatwoot (WhatsApp id $e->{id})")
        or diag "$e->{key} ($e->{id}) appears " . scalar(@$copies) . " times: " . explain [map { $_->{content} } @$copies];
    my $m = $copies->[0] or next;
    is($m->{conversation}, $conv{$e->{conv}}, "$e->{key}: in the conversation of $e->{conv}");
    is($m->{message_type}, $e->{type}, "$e->{key}: " . ($e->{type} ? 'outgoing' : 'incoming'));
    is($m->{content}, $e->{content}, "$e->{key}: its content");
    ok(!$m->{private}, "$e->{key}: not a private note");
    if ($e->{reply}) {
        my $target = $view->{by_waid}{$id_of{$e->{reply}}}[0];
        is($m->{content_attributes}{in_reply_to}, $target && $target->{id},
           "$e->{key}: replies to $e->{reply} in Chatwoot");
    }
    ok($m->{content_attributes}{deleted}, "$e->{key}: deleted by the revoke") if $e->{deleted};
}

# In order, and nothing else (no placeholder, no note, no echo).
for my $c (sort keys %conv) {
    my @want = map { $_->{id} } grep { $_->{conv} eq $c && !$_->{event} } @expect;
    my @got = map { ($_->{source_id} // 'no source id: ' . ($_->{content} // '')) =~ s/^WAID://r }
              @{$view->{conversations}{$conv{$c}}{messages}};
    is_deeply(\@got, \@want, "$c: every message in the order written, nothing else")
        or diag "lost: @{[grep { my $w = $_; !grep { $_ eq $w } @got } @want]}; "
              . "extra or doubled: @{[grep { my $g = $_; (grep { $_ eq $g } @got) > 1 || !grep { $_ eq $g } @want } @got]}";
}

# Every contact message was receipted after it was kept.
for my $e (grep { $_->{type} == 0 } @expect) {
    ok($wa->wait_receipt_in(id => $e->{id}, receipt_type => 'delivery', timeout => 20),
       "$e->{key}: a delivery receipt went to WhatsApp");
}

# --- Chatwoot -> WhatsApp --------------------------------------------------------
my $ben_b2 = $view->{by_waid}{$id_of{B2}}[0]{id};
my $h1 = $view->{by_waid}{$id_of{H1}}[0]{id};
my %reply = (
    R1 => { conv => 'lea', content => 'Danke Lea!' },
    R2 => { conv => 'ben', content => 'Bestellung 18 ist unterwegs', quote => 'B2', in_reply_to => $ben_b2 },
    R3 => { conv => 'cem', content => 'Diese Nachricht verschwindet gleich' },
    R4 => { conv => 'glid', content => 'Hallo zusammen' },
    R5 => { conv => 'gpn', content => 'Gerne, Ben', quote => 'H1', in_reply_to => $h1 },
);
my $since = $wa->last_seq;
for my $k (sort keys %reply) {
    my $r = $reply{$k};
    $r->{cw} = $x->agent_reply(conversation => $conv{$r->{conv}}, content => $r->{content}, in_fake => 1,
                               $r->{quote} ? (in_reply_to => $r->{in_reply_to}, in_reply_to_waid => $id_of{$r->{quote}}) : ());
}
for my $k (sort keys %reply) {
    my $r = $reply{$k};
    $r->{wa} = $t->wait_for(sub { $t->sql("SELECT wa_id FROM wa_sent WHERE chatwoot_message_id = $r->{cw}")->[0] },
                            60, "$k sent (its WhatsApp id kept)")->[0];
}
$t->wait_outbox_settled(60);
is_deeply($t->sql(q{SELECT state, count(*) FROM outbox GROUP BY state}), [['sent', scalar keys %reply]],
          'every agent reply settled as sent');

# Who must decrypt each: every device of every member, and our phone.
my %devices = (
    lea  => ["$phone{lea}:0", "$phone{lea}:2", "$me:0"],
    ben  => ["$phone{ben}:0", "$me:0"],
    cem  => ["$phone{cem}:0", "$me:0"],
    glid => ["$phone{lea}:0", "$phone{lea}:2", "$phone{ben}:0", "$phone{cem}:0", "$me:0"],
    gpn  => ["$phone{lea}:0", "$phone{lea}:2", "$phone{ben}:0", "$me:0"],
);

# { device key => [ delivered events ] } of WhatsApp id $id since $since.
sub deliveries_of {
    my ($id) = @_;
    my %by;
    for my $ev (@{$wa->events(id => $id, since => $since)}) {
        next unless $ev->{type} =~ /^(?:re)?delivered$/ && !$ev->{forwarded};
        push @{$by{ChatwootTest::Exchange::device_key($ev->{to}, \%lid_to_pn)}}, $ev;
    }
    return \%by;
}

sub text_of {
    my ($m) = @_;
    return $m->{conversation} // $m->{extendedTextMessage}{text};
}

for my $k (sort keys %reply) {
    my $r = $reply{$k};
    my $got = deliveries_of($r->{wa});
    is_deeply([sort keys %$got], [sort @{$devices{$r->{conv}}}], "$k: every device of $r->{conv} and our phone got it")
        or diag explain { lost => [grep { !$got->{$_} } @{$devices{$r->{conv}}}], got => [sort keys %$got] };
    for my $d (sort keys %$got) {
        is(scalar @{$got->{$d}}, 1, "$k: $d decrypted it once") or diag explain $got->{$d};
        my $m = $got->{$d}[0]{message};
        like(text_of($m) // '', qr/\Q$r->{content}\E$/, "$k: $d read the agent's text");
        next unless $r->{quote};
        is($m->{extendedTextMessage}{contextInfo}{stanzaId}, $id_of{$r->{quote}}, "$k: $d sees the quote of $r->{quote}");
        my ($quoted) = ($m->{extendedTextMessage}{contextInfo}{participant} // '') =~ /^(\d+)/;
        is($lid_to_pn{$quoted // ''} // $quoted, $phone{ben}, "$k: $d: the quote names its author, Ben");
    }
}

# The agent deletes R3 in Chatwoot: revoked on WhatsApp, for every device.
$since = $wa->last_seq;
$x->agent_delete(id => $reply{R3}{cw}, conversation => $conv{cem});
$t->wait_for(sub { $t->sql(q{SELECT count(*) FROM outbox WHERE action = 'delete'})->[0][0] }, 30,
             'the deletion in the outbox');
$t->wait_outbox_settled(60);
my $revoke = [grep { !$_->{forwarded} && ($_->{message}{protocolMessage}{type} // '') eq 'REVOKE' }
              @{$wa->events(type => 'delivered', since => $since)}];
is_deeply($t->sql(q{SELECT state FROM outbox WHERE action = 'delete'}), [['sent']], 'R3: the deletion was sent')
    or diag 'the mock refused: ' . join '; ', map { "$_->{id}: $_->{reason}" } @{$wa->events(type => 'refused', since => $since)};
my %rv;
push @{$rv{ChatwootTest::Exchange::device_key($_->{to}, \%lid_to_pn)}}, $_ for @$revoke;
is_deeply([sort keys %rv], [sort @{$devices{cem}}], 'R3: the revoke went to every device that had it');
for my $d (sort keys %rv) {
    is(scalar @{$rv{$d}}, 1, "R3: $d got the revoke once");
    is($rv{$d}[0]{message}{protocolMessage}{key}{id}, $reply{R3}{wa}, "R3: $d: it revokes the agent's message");
}

is_deeply([map { "$_->{id}: $_->{reason}" } @{$wa->events(type => 'refused')}], [],
          'the mock refused nothing the device sent');
if (!Test::More->builder->is_passing) {
    # What our phone got, in order: the sessions behind a refusal.
    my $our_lid = $me_lid // $me;
    my $ours = qr/^(?:\Q$me\E|\Q$our_lid\E)[:@]/;
    diag join "\n", map { "$_->{seq} $_->{type} $_->{id} to=" . ($_->{to} // '') . ' enc=' . ($_->{enc} // '') . ($_->{reason} ? " $_->{reason}" : '') }
        sort { $a->{seq} <=> $b->{seq} }
        grep { ($_->{to} // '') =~ $ours || $_->{type} eq 'refused' }
        map { @{$wa->events(type => $_)} } qw(delivered redelivered refused);
}
$t->finish;
done_testing;
