# What the server sends a connected device, through the real WebSocket
# stack: a notification is acked at once (also when its frame comes zlib-
# compressed and cut into 7-byte WebSocket messages); a message is kept in
# the store before it is acked, and a redelivery is acked again without a
# second row; an encrypt notification saying the prekey pool runs low gets
# a refill; the server's own ping is answered; an IQ the device does not
# serve gets an error answer (the server would wait for one); the end of the
# offline backlog is noted; the edge routing info is stored and sent ahead of
# the next connection's handshake.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest;
use ChatwootTest::WaMock;
use Test::More;

my $t = ChatwootTest->new;
my ($port, $wa) = $t->start_wa;
my $p = $t->pair_qr($wa, 'main');
my $conn = $p->{login}{conn};
$wa->wait(type => 'passive', conn => $conn);
my $now = time;

# The first stanza the mock received after `since` tagged $tag with
# attribute id $id.
sub answer_to {
    my ($tag, $id, $since) = @_;
    while (1) {
        my $ev = $wa->wait(type => 'received', tag => $tag, conn => $conn, since => $since);
        return $ev if ($ev->{node}{attrs}{id} // '') eq $id;
        $since = $ev->{seq};
    }
}

# A notification: acked at once, however it is framed.
for my $framing ([plain => ()], [compressed => (compress => 1)], ['split in 7-byte messages' => (split => 7)],
                 ['compressed and split' => (compress => 1, split => 7)]) {
    my ($what, %how) = @$framing;
    my $id = "n-$what" =~ s/\W/-/gr;
    my $since = $wa->last_seq;
    $wa->send_nodes([{ tag => 'notification',
                       attrs => { id => $id, type => 'devices', from => 's.whatsapp.net', t => "$now" },
                       content => [{ tag => 'devices', attrs => {} }] }], %how);
    my $ack = answer_to('ack', $id, $since);
    is($ack->{node}{attrs}{class}, 'notification', "notification ($what): acked, class notification");
}

# A message (its content does not decrypt: the ack must not wait for that).
my $msg = { tag => 'message',
            attrs => { id => '3EB0AABBCCDDEEFF0011', from => '15550009999@s.whatsapp.net', type => 'text',
                       t => "$now" },
            content => [{ tag => 'enc', attrs => { v => '2', type => 'msg' }, content => { hex => '00' x 40 } }] };
my $since = $wa->last_seq;
$wa->send_nodes([$msg]);
my $ack = answer_to('ack', '3EB0AABBCCDDEEFF0011', $since);
is($ack->{node}{attrs}{class}, 'message', 'a message: acked, class message');
my $rows = $t->sql(q{SELECT tag, stanza_key FROM wa_stanzas WHERE device = 'main'});
is(scalar @$rows, 1, 'a message: kept in the store when the ack comes');
is($rows->[0][0], 'message', 'as a message');
like($rows->[0][1], qr/3EB0AABBCCDDEEFF0011/, 'keyed by its id');
$since = $wa->last_seq;
$wa->send_nodes([$msg]);
answer_to('ack', '3EB0AABBCCDDEEFF0011', $since);
is($t->sql(q{SELECT count(*) FROM wa_stanzas WHERE device = 'main'})->[0][0], 1,
   'a redelivered message: acked again, kept once');

# The server's ping: answered with the same id.
$since = $wa->last_seq;
$wa->send_nodes([{ tag => 'iq', attrs => { id => 'sp-1', type => 'get', xmlns => 'urn:xmpp:ping',
                                            from => 's.whatsapp.net' }, content => [{ tag => 'ping', attrs => {} }] }]);
my $pong = answer_to('iq', 'sp-1', $since);
is($pong->{node}{attrs}{type}, 'result', 'the server\'s ping: answered');

# An IQ nobody serves: an error answer.
$since = $wa->last_seq;
$wa->send_nodes([{ tag => 'iq', attrs => { id => 'q-1', type => 'get', xmlns => 'w:unknown',
                                           from => 's.whatsapp.net' }, content => [{ tag => 'query', attrs => {} }] }]);
my $err = answer_to('iq', 'q-1', $since);
is($err->{node}{attrs}{type}, 'error', 'an IQ the device does not serve: an error answer');

# The server's word that our prekey pool runs low: a refill of 50 below 5
# keys, nothing at or above.
$since = $wa->last_seq;
for my $n (10, 3) {
    $wa->send_nodes([{ tag => 'notification', attrs => { id => "enc-$n", type => 'encrypt', from => 's.whatsapp.net',
                                                         t => "$now" },
                       content => [{ tag => 'count', attrs => { value => "$n" } }] }]);
    is(answer_to('ack', "enc-$n", $since)->{node}{attrs}{class}, 'notification', "encrypt notification, count $n: acked");
}
my $refill = $wa->wait(type => 'prekeys-uploaded', conn => $conn, since => $since);
is($refill->{count}, 50, 'count 3: a refill of 50 prekeys, verified by the mock');
is($refill->{total}, 862, 'the server holds 862, no id reused');
is(scalar @{$wa->events(type => 'prekeys-uploaded', since => $since)}, 1, 'count 10: no upload');
is($t->sql(q{SELECT count(*) FROM wa_pre_keys WHERE device = 'main' AND uploaded = 1})->[0][0], 862,
   'the store marks 862 prekeys uploaded');

# The end of the offline backlog.
$wa->send_nodes([{ tag => 'ib', attrs => { from => 's.whatsapp.net' },
                   content => [{ tag => 'offline', attrs => { count => '3' } }] }]);
ok(eval { $t->wait_log(qr/\[info\].*inbox "main".*backlog delivered \(3\)/) }, 'the backlog\'s end is logged')
    or diag $@;

# Edge routing: stored, then sent ahead of the next handshake.
my $routing = '0805080d1205' . 'ab' x 8;
$wa->send_nodes([{ tag => 'ib', attrs => { from => 's.whatsapp.net' },
                   content => [{ tag => 'edge_routing', attrs => {},
                                 content => [{ tag => 'routing_info', attrs => {}, content => { hex => $routing } }] }] }]);
$t->wait_for(sub {
    my $r = $t->sql(q{SELECT lower(hex(value)) FROM wa_device_values WHERE device = 'main' AND key = 'routing_info'});
    @$r && $r->[0][0] eq $routing;
}, 10, 'the routing info stored');
ok(1, 'edge routing: the routing info is stored');
$since = $wa->last_seq;
$wa->drop($conn);
my $hs = $wa->wait(type => 'handshake', since => $since, timeout => 20);
my ($c) = grep { $_->{conn} == $hs->{conn} } @{$wa->connections};
is($c->{routing_info}, $routing, 'edge routing: the next connection sends it first');
is($hs->{client}{kind}, 'login', 'and logs in');
$t->wait_device('main', sub { $_[0]{state} eq 'connected' && $_[0]{connected_since} >= int($hs->{at} / 1000) },
                20, 'connected again');

is_deeply($wa->events(type => 'refused'), [], 'the mock refused nothing the device sent');
$t->finish;
done_testing;
