# A contact's device that lost its session with us cannot decrypt an
# agent's reply (issue 10, waweb.md 1.17).  The server takes the message
# anyway (it never reads <enc>); the device asks for it again with retry
# receipts, as real clients do: count 1 bare, which our old session cannot
# answer, then count 2 with its keys, from which the bridge starts a fresh
# session and resends a pkmsg that the device reads.  The other devices
# have the reply once, that device once (on the resend), and the outbox
# entry is sent: the server acked it the first time.  A resend lost with the
# connection (the mock's POST lose) leaves its retry receipt unacked, so the
# server delivers the receipt again after the next login and the bridge
# resends; a retry receipt for an id that is none of our sends is acked at
# once and never comes back.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest;
use ChatwootTest::Payloads qw(message_created);
use Test::More;

my $t = ChatwootTest->new;
my ($port, $wa) = $t->start_wa;
my $p = $t->pair_qr($wa, 'main');
$wa->wait(type => 'passive', conn => $p->{login}{conn});
(my $our_phone = $p->{sent}{lid}) =~ s/:\d+\@/\@/;   # our account's device 0, on its LID

my $ana = $wa->wa_contact('4915100000011', devices => [0, 2], name => 'Ana');
(my $ana_lid = $ana->{lid}) =~ s/\@lid$//;
my $dev2 = "$ana_lid:2\@lid";                          # as her LID chat names the device
my @devices = ($ana->{lid}, $dev2, $our_phone);

sub webhook_ok {
    my ($body, $what) = @_;
    my ($code, undef, $why) = $t->webhook($port, $body);
    is($code, 202, "$what: accepted") or diag $why;
}
sub outbox_state {
    my ($message_id) = @_;
    return $t->sql(qq{SELECT state FROM outbox WHERE chatwoot_message_id = $message_id})->[0][0] // '';
}
# The <enc> nodes (at any depth) of a stanza as the mock recorded it.
sub encs {
    my ($node) = @_;
    return () unless ref $node eq 'HASH';
    return ($node) if ($node->{tag} // '') eq 'enc';
    return ref $node->{content} eq 'ARRAY' ? map { encs($_) } @{$node->{content}} : ();
}

# 1. A first reply: every device reads it; our sessions with them exist.
my $since = $wa->last_seq;
webhook_ok(message_created(id => 8001, conversation => 21, phone => '+4915100000011', content => 'First'), 'a first reply');
$wa->wait_delivered(to => $_, since => $since, timeout => 20) for @devices;
$t->wait_for(sub { outbox_state(8001) eq 'sent' }, 15, 'the first reply is sent');

# 2. Her second device loses its sessions with our account.
ok($wa->wa_forget_session(from => '4915100000011', device => 2)->{forgotten} >= 1,
   'her second device forgot its session with our companion');

# 3. The next reply: the server acks it, her main device and our phone read it,
# her second device cannot and asks again.
$since = $wa->last_seq;
webhook_ok(message_created(id => 8002, conversation => 21, phone => '+4915100000011', content => 'Second'),
           'a reply to the device that lost its session');
my $first = $wa->wait_delivered(to => $ana->{lid}, since => $since, timeout => 20);
my $id = $first->{id};
like($first->{message}{conversation}, qr/Second\z/, "her main device reads $id");
like($wa->wait_delivered(to => $our_phone, id => $id, since => $since, timeout => 20)->{message}{conversation},
     qr/Second\z/, 'our phone reads its device-sent copy');
my $u1 = $wa->wait_match('undecryptable', id => $id, to => $dev2, count => 1, since => $since, timeout => 20);
ok(!$u1->{keys}, 'her second device cannot decrypt it: retry receipt 1, without keys');
$t->wait_for(sub { outbox_state(8002) eq 'sent' }, 15, 'the reply is sent: the server took it');

# 4. Our old session cannot answer count 1 (the device has none): it asks
# again with its keys, and the bridge resends on a fresh session.
my $u2 = $wa->wait_match('undecryptable', id => $id, to => $dev2, count => 2, since => $u1->{seq}, timeout => 20);
ok($u2->{keys}, 'retry receipt 2 carries its keys');
my $again = $wa->wait_match('delivered', id => $id, to => $dev2, since => $u2->{seq}, timeout => 20);
ok($again->{retry}, 'the resend reaches it, recorded as a retry');
is($again->{enc}, 'pkmsg', 'as a pkmsg: a fresh session from the keys');
like($again->{message}{conversation}, qr/\n\nSecond\z/, 'and it reads the signed reply');

# What the bridge sent for that message: the original once, then one resend
# per retry receipt, each with count, only to that device.
my @sent = grep { ($_->{node}{attrs}{id} // '') eq $id } @{$wa->events(type => 'received', tag => 'message', since => $since)};
is(scalar @sent, 3, 'the reply and two resends');
my @resent = map { [encs($_->{node})] } @sent[1, 2];
is_deeply([map { scalar @$_ } @resent], [1, 1], 'each resend holds one <enc>');
is_deeply([map { $_->[0]{attrs}{count} } @resent], [1, 2], 'counted 1 and 2');
is($resent[1][0]{attrs}{type}, 'pkmsg', 'the second from the fresh session');

# 5. Exactly once everywhere, nothing refused, nothing given up.
is_deeply($wa->deliveries($id), { map { $_ => 1 } @devices }, 'each device has the reply exactly once');
is(scalar(grep { $_->{id} eq $id } @{$wa->events(type => 'undecryptable', since => $since)}), 2, 'two retry receipts, no more');
is_deeply($wa->events(type => 'undecryptable-gave-up', since => $since), [], 'the device did not give up');
is_deeply([grep { !$_->{stale} } @{$wa->events(type => 'refused', since => $since)}], [], 'the server refused nothing');
is(outbox_state(8002), 'sent', 'the outbox entry stays sent');

# 6. The next reply goes on the fresh session: every device once, no retry.
$since = $wa->last_seq;
webhook_ok(message_created(id => 8003, conversation => 21, phone => '+4915100000011', content => 'Third'), 'a third reply');
my $third = $wa->wait_delivered(to => $dev2, since => $since, timeout => 20);
like($third->{message}{conversation}, qr/Third\z/, 'her second device reads the next reply at once');
$wa->wait_delivered(to => $_, id => $third->{id}, since => $since, timeout => 20) for $ana->{lid}, $our_phone;
is_deeply($wa->events(type => 'undecryptable', since => $since), [], 'no retry receipt for it');
$t->wait_for(sub { outbox_state(8003) eq 'sent' }, 15, 'and it is sent');

# 7. A resend lost with the connection goes again.  Her second device loses
# its session once more; the server loses our first resend (a retry resend
# is the only kind `lose retry` takes: the reply's id is not known before
# the bridge sends it, and the reply itself must go through).
ok($wa->wa_forget_session(from => '4915100000011', device => 2)->{forgotten} >= 1,
   'her second device forgot its session again');
my $conn = $wa->live_logins->[-1]{conn};
$wa->lose(retry => 1, conn => $conn);
$since = $wa->last_seq;
webhook_ok(message_created(id => 8004, conversation => 21, phone => '+4915100000011', content => 'Fourth'),
           'a reply whose resend is lost');
my $fourth = $wa->wait_delivered(to => $ana->{lid}, since => $since, timeout => 20);
my $lost_id = $fourth->{id};
like($fourth->{message}{conversation}, qr/Fourth\z/, 'the reply itself goes through: her main device reads it');
my $u = $wa->wait_match('undecryptable', id => $lost_id, to => $dev2, count => 1, since => $since, timeout => 20);
ok(!$u->{keys}, 'her second device cannot decrypt it: retry receipt 1');
my $lost = $wa->wait_match('lost', id => $lost_id, since => $u->{seq}, timeout => 20);
is($lost->{conn}, $conn, 'our resend is lost on that connection');
ok($lost->{retry}, 'and it was a resend');
is_deeply([map { $_->{attrs}{count} } encs($lost->{node})], [1], 'one <enc count="1">');

# Our side moves on (a message from her is received and acked after the lost
# resend went out) without acking the retry receipt: the server never acked
# the resend.
my $hello = $wa->wa_message(from => '4915100000011', message => { conversation => 'are you there?' });
$wa->wait_match('ack-in', class => 'message', id => $hello->{id}, conn => $conn, since => $lost->{seq}, timeout => 20);
is_deeply([grep { ($_->{class} // '') eq 'receipt' } @{$wa->events(type => 'ack-in', id => $lost_id, since => $since)}], [],
          'no ack of the retry receipt while the resend is unacked');
$t->wait_for(sub { outbox_state(8004) eq 'sent' }, 15, 'the reply is sent: the server took it');

# The connection dies: after the login, the retry receipt comes again, the
# bridge resends, and the device (still without a session) asks with its
# keys; the resend on a fresh session reaches it.
my $drop_since = $wa->last_seq;
$wa->drop($conn);
my $login = $wa->wait(type => 'handshake', since => $drop_since, timeout => 30);
my $again_rr = $wa->wait_match('message-redelivered', id => "retry|$lost_id|$dev2", since => $drop_since, timeout => 30);
is($again_rr->{conn}, $login->{conn}, 'the retry receipt is delivered again after the login');
my $u2b = $wa->wait_match('undecryptable', id => $lost_id, to => $dev2, count => 2, since => $again_rr->{seq}, timeout => 20);
ok($u2b->{keys}, 'the resend again, on the old session: still undecryptable, retry receipt 2 with keys');
my $got = $wa->wait_match('delivered', id => $lost_id, to => $dev2, since => $u2b->{seq}, timeout => 20);
ok($got->{retry}, 'the resend on the fresh session reaches it, as a retry');
like($got->{message}{conversation}, qr/\n\nFourth\z/, 'and it reads the reply');
my $last_ack = $wa->wait_match('ack-in', class => 'receipt', id => $lost_id, since => $got->{seq}, timeout => 20);
is($last_ack->{ack_type}, 'retry', 'our ack of the retry receipt follows the delivered resend');
is($last_ack->{to}, $dev2, 'to the device that asked');

my @resends = grep { ($_->{node}{attrs}{id} // '') eq $lost_id } @{$wa->events(type => 'received', tag => 'message', since => $drop_since)};
is_deeply([map { [map { $_->{attrs}{count} } encs($_->{node})] } @resends], [[1], [2]],
          'after the login: the resend again (count 1), then the one with count 2');
is(scalar(grep { ($_->{class} // '') eq 'receipt' && ($_->{ack_type} // '') eq 'retry' }
          @{$wa->events(type => 'ack-in', id => $lost_id, since => $drop_since)}), 2,
   'each retry receipt acked once, after its resend was acked');
is_deeply($wa->deliveries($lost_id, since => $since), { map { $_ => 1 } @devices }, 'each device has the reply exactly once');
is_deeply($wa->events(type => 'undecryptable-gave-up', since => $since), [], 'the device did not give up');
is_deeply([grep { !$_->{stale} } @{$wa->events(type => 'refused', since => $since)}], [], 'the server refused nothing');
is(outbox_state(8004), 'sent', 'the outbox entry stays sent');

# 8. A retry receipt for an id that is none of our recent sends: nothing to
# resend, acked at once, and so not delivered again after a login.
$wa->wait(type => 'passive', conn => $login->{conn}, timeout => 20);
my $unknown = '3EB0' . ('5A' x 8);
$since = $wa->last_seq;
$wa->wa_retry(from => '4915100000011', device => 2, id => $unknown, unknown => 1);
my $pn_dev2 = '4915100000011:2@s.whatsapp.net';   # the mock's own receipts name the device by its PN
my $uack = $wa->wait_match('ack-in', class => 'receipt', id => $unknown, since => $since, timeout => 20);
is_deeply([$uack->{ack_type}, $uack->{to}, $uack->{error}], ['retry', $pn_dev2, undef], 'acked at once');
is_deeply($wa->events(type => 'received', tag => 'message', id => $unknown, since => $since), [], 'nothing resent');
$drop_since = $wa->last_seq;
$wa->drop($login->{conn});
my $login2 = $wa->wait(type => 'handshake', since => $drop_since, timeout => 30);
# The server flushes what is pending at the login, before anything the
# client sends after it: once its passive iq came, a redelivery would be there.
$wa->wait(type => 'passive', conn => $login2->{conn}, since => $drop_since, timeout => 20);
is_deeply([grep { $_->{id} =~ /^retry\|/ } @{$wa->events(type => 'message-redelivered', since => $drop_since)}], [],
          'no retry receipt came again after the login');
is_deeply($wa->events(type => 'received', tag => 'message', since => $drop_since), [], 'and nothing was resent');

$wa->stop;
done_testing;
