# History sync, the source (issue 12), through nginx and the loopback
# WhatsApp server: our phone sends history chunks as peer notifications,
# an inline bootstrap chunk and downloaded ones (md-msg-hist media over
# TLS); the helper opens each (hash and MAC checked, inflated with the
# bound, parsed) and stores it in one unit of work (schema step 14), and
# only then sends the <receipt type="hist_sync">.  Checks the rows against
# what the mock sent (groups, LID and PN chats, media keys, push names,
# PN <-> LID pairs, a tctoken, the NCT salt), the same chunk twice storing
# nothing twice, a forged MAC, a zip bomb past the bound and a contact's
# notification each refused with a log line and nothing stored, and a
# helper killed while its chunk cannot be downloaded ending with the chunk
# stored once.  Nothing of the history is posted to Chatwoot.
use strict;
use warnings;
use utf8;
use lib 't/lib';
use ChatwootTest;
use ChatwootTest::WaMock;
use ChatwootTest::FakeChatwoot;
use JSON::PP;
use MIME::Base64 qw(decode_base64);
use Test::More;

my $t = ChatwootTest->new;
$t->allow_log(qr/cache manager process \d+ exited on signal 9/);
my $dir = $t->dir;
my $wa = ChatwootTest::WaMock->start_tls_media($t);
my ($port) = $t->start_wa(wa => $wa, directive => $wa->directive(tls => 1, ca_file => "$dir/ca.pem"));
my $fake = $t->{wa_setup}{fake};
my $p = $t->pair_qr($wa, 'main');
$wa->wait(type => 'passive', conn => $p->{login}{conn});

my $hex = sub { unpack 'H*', decode_base64($_[0]) };

# Sends a chunk and waits for its hist_sync receipt; the rows must exist
# when it comes (they commit before it goes).
sub chunk {
    my (%o) = @_;
    my $since = $wa->last_seq;
    my $r = $wa->wa_history(%o);
    my $rc = $wa->wait_match('history-receipt', id => $r->{id}, since => $since, timeout => 30);
    return ($r, $rc);
}

sub rows {
    my ($sql, @bind) = @_;
    return $t->sql($sql, @bind);
}

sub messages_of {
    my ($chat) = @_;
    return rows(q{SELECT id, from_me, participant, timestamp, push_name, text, kind, caption, media
                  FROM history_messages WHERE inbox = 'main' AND chat = ? ORDER BY timestamp, id}, $chat);
}

# --- an inline bootstrap chunk: PN and LID chats, names, pairs, the salt ----
my $ana_pn = '4915100000001@s.whatsapp.net';
my $ana_lid = '900000000001@lid';
my $bo_lid = '900000000002@lid';
my $bo_pn = '4915100000002@s.whatsapp.net';
{
    my ($r, $rc) = chunk(
        type => 'initial_bootstrap', inline => 1, chunk_order => 0, progress => 10,
        nct_salt_hex => '00112233445566778899aabbccddeeff',
        conversations => [
            { jid => $ana_pn, name => 'Ana', lid_jid => $ana_lid, messages => [
                { id => 'B1', timestamp => 1700000001, text => 'hello from the past', push_name => 'Ana' },
                { id => 'B2', timestamp => 1700000002, from_me => 1, text => 'hi Ana' },
            ] },
            { jid => $bo_lid, pn_jid => $bo_pn, messages => [
                { id => 'B3', timestamp => 1700000003, text => 'Bo, by LID', push_name => 'Bo' },
            ] },
        ],
        push_names => [{ jid => $ana_pn, name => 'Ana' }, { jid => $bo_lid, name => 'Bo' }],
        jid_mappings => [{ pn_jid => '4915100000003@s.whatsapp.net', lid_jid => '900000000003@lid' }],
    );
    ok($r->{inline}, 'bootstrap: sent inline');
    is_deeply([$rc->{sync_type}, $rc->{known}], ['initial_bootstrap', JSON::PP::true],
              'bootstrap: the hist_sync receipt for the notification');
    my ($peer) = grep { ($_->{receipt_type} // '') eq 'peer_msg' && $_->{id} eq $r->{id} }
        @{$wa->events(type => 'receipt-in')};
    ok($peer && $peer->{seq} < $rc->{seq}, 'bootstrap: its peer_msg delivery receipt went first');
    is_deeply(messages_of($ana_pn), [
        ['B1', 0, '', 1700000001, 'Ana', 'hello from the past', '', '', undef],
        ['B2', 1, '', 1700000002, '', 'hi Ana', '', '', undef],
    ], 'bootstrap: the PN chat\'s messages, exactly, when the receipt comes');
    is_deeply(messages_of($bo_lid), [['B3', 0, '', 1700000003, 'Bo', 'Bo, by LID', '', '', undef]],
              'bootstrap: the LID chat\'s message');
    is_deeply(rows(q{SELECT jid, name, pn_jid, lid_jid FROM history_chats WHERE inbox = 'main' ORDER BY jid}),
              [[$ana_pn, 'Ana', '', $ana_lid], [$bo_lid, '', $bo_pn, '']], 'bootstrap: the chats');
    is_deeply(rows(q{SELECT jid, name FROM history_push_names WHERE inbox = 'main' ORDER BY jid}),
              [[$ana_pn, 'Ana'], [$bo_lid, 'Bo']], 'bootstrap: the push names');
    is_deeply(rows(q{SELECT pn, lid FROM wa_lid_map WHERE device = 'main' AND pn IN
                     ('4915100000001', '4915100000002', '4915100000003') ORDER BY pn}),
              [['4915100000001', '900000000001'], ['4915100000002', '900000000002'],
               ['4915100000003', '900000000003']],
              'bootstrap: PN <-> LID pairs in the signal store\'s map (chats and mappings)');
    is_deeply(rows(q{SELECT hex(value) FROM wa_device_values WHERE device = 'main' AND key = 'nct_salt'}),
              [['00112233445566778899AABBCCDDEEFF']], 'bootstrap: the NCT salt where the send path reads it');
}

# --- a downloaded recent chunk: a group, media keys, a tctoken -------------
my $group = '120363000000000042@g.us';
my %recent = (
    type => 'recent', chunk_order => 1, progress => 50,
    conversations => [
        { jid => $group, name => 'Team', messages => [
            { id => 'R1', timestamp => 1700000100, participant => $bo_lid, text => 'in the group', push_name => 'Bo' },
            { id => 'R2', timestamp => 1700000101, participant => $ana_pn,
              media => { kind => 'image', data => 'x' x 5000, mimetype => 'image/jpeg', caption => 'the photo' } },
        ] },
        { jid => $ana_pn, tc_token_hex => 'a1a2a3a4a5a6a7a8', tc_token_t => 1700000200, messages => [
            { id => 'R3', timestamp => 1700000102, media => { kind => 'document', data => 'pdf' x 100,
              mimetype => 'application/pdf', file_name => 'a.pdf' } },
        ] },
    ],
);
my $recent_id;
{
    my ($r, $rc) = chunk(%recent);
    $recent_id = $r->{id};
    ok(!$r->{inline} && $r->{blob}{direct_path}, 'recent: sent as md-msg-hist media');
    is($rc->{sync_type}, 'recent', 'recent: the hist_sync receipt');
    my $m2 = $r->{media}{R2};
    my $m3 = $r->{media}{R3};
    is_deeply(messages_of($group), [
        ['R1', 0, $bo_lid, 1700000100, 'Bo', 'in the group', '', '', undef],
        ['R2', 0, $ana_pn, 1700000101, '', undef, 'image', 'the photo',
         encode_json_canon({ type => 'image', media_key => $hex->($m2->{media_key}),
                             file_sha256 => $hex->($m2->{file_sha256}),
                             file_enc_sha256 => $hex->($m2->{file_enc_sha256}),
                             file_length => $m2->{file_length}, direct_path => $m2->{direct_path}, url => $m2->{url},
                             mimetype => 'image/jpeg' })],
    ], 'recent: the group\'s messages with the image\'s keys for a later download');
    my $doc = rows(q{SELECT kind, media FROM history_messages WHERE id = 'R3'})->[0];
    is($doc->[0], 'document', 'recent: the document\'s kind');
    my $dm = decode_json($doc->[1]);
    is_deeply([@$dm{qw(media_key file_enc_sha256 direct_path file_name)}],
              [$hex->($m3->{media_key}), $hex->($m3->{file_enc_sha256}), $m3->{direct_path}, 'a.pdf'],
              'recent: the document\'s keys, path and name');
    is_deeply(rows(q{SELECT hex(token), t FROM wa_privacy_tokens WHERE device = 'main' AND lid = ?}, $ana_lid),
              [['A1A2A3A4A5A6A7A8', 1700000200]], 'recent: the tctoken under the chat\'s LID');
    is_deeply(rows(q{SELECT name FROM history_chats WHERE jid = ?}, $ana_pn), [['Ana']],
              'recent: a chat named again without a name keeps its name');
    is(rows(q{SELECT count(*) FROM history_pending})->[0][0], 0, 'recent: nothing left pending');
    my @left = glob("$t->{state}/media/*history*");
    is(scalar @left, 0, 'recent: the downloaded blob removed') or diag "@left";
}

my $count = sub { rows(q{SELECT count(*) FROM history_messages WHERE inbox = 'main'})->[0][0] };
is($count->(), 6, 'six history messages so far');

# --- the same chunk twice: nothing twice -----------------------------------
{
    my $since = $wa->last_seq;
    my $r = $wa->wa_history(%recent, conversations => [
        { %{$recent{conversations}[0]}, messages => [
            { id => 'R1', timestamp => 1700000100, participant => $bo_lid, text => 'in the group', push_name => 'Bo' },
        ] }]);
    $wa->wait_match('history-receipt', id => $r->{id}, since => $since, timeout => 30);
    is($count->(), 6, 'a chunk again: no message stored twice');
    is(rows(q{SELECT count(*) FROM history_chunks WHERE inbox = 'main'})->[0][0], 3,
       'each chunk logged in history_chunks');
}

# --- refused: a forged MAC, a zip bomb, a contact's notification ----------
{
    my ($r) = chunk(conversations => [{ jid => $ana_pn, messages => [
        { id => 'F1', timestamp => 1700000300, text => 'forged' } ] }], forge => 'mac');
    $t->wait_log(qr/WhatsApp history chunk \(stanza \d+\) skipped: blob damaged or forged/);
    is(rows(q{SELECT count(*) FROM history_messages WHERE id = 'F1'})->[0][0], 0,
       'a forged MAC: nothing stored, its receipt still sent');
}
{
    my ($r) = chunk(bomb => 80 * 1024 * 1024);
    ok($r->{zlib_length} < 200_000, "a zip bomb: $r->{zlib_length} bytes of zlib");
    $t->wait_log(qr/WhatsApp history chunk \(stanza \d+\) skipped: .*bound 67108864 bytes/);
    is($count->(), 6, 'a zip bomb over the bound: nothing stored, its receipt still sent');
}
{
    $wa->wa_contact('4915100000009', name => 'Mallory');
    my $since = $wa->last_seq;
    my $r = $wa->wa_history(from => '4915100000009', conversations => [{ jid => $ana_pn, messages => [
        { id => 'X1', timestamp => 1700000400, text => 'planted' } ] }]);
    my $rc = $wa->wait_receipt_in(id => $r->{id}, since => $since);
    isnt($rc->{receipt_type}, 'hist_sync', 'a contact\'s notification: no hist_sync receipt');
    $t->wait_log(qr/history sync notification from 4915100000009\@s\.whatsapp\.net .*refused: only our own phone/);
    is(rows(q{SELECT count(*) FROM history_messages WHERE id = 'X1'})->[0][0], 0,
       'a contact\'s notification: nothing stored');
}

# --- a helper killed before the chunk is stored ----------------------------
{
    $wa->media_fail(count => 1000, op => 'download', mode => 'status', status => 503);
    my $since = $wa->last_seq;
    my $r = $wa->wa_history(type => 'full', conversations => [{ jid => $bo_lid, messages => [
        { id => 'K1', timestamp => 1700000500, text => 'after a kill' },
        { id => 'K2', timestamp => 1700000501, text => 'and another' } ] }]);
    $t->wait_for(sub { rows(q{SELECT count(*) FROM history_pending})->[0][0] }, 20,
                 'the notification handled, its chunk pending');
    $wa->wait_match('media-download', since => $since);
    my $helper = $t->status->{helper}{pid};
    kill 'KILL', $helper;
    $wa->media_fail(count => 0, op => 'download');
    $t->wait_for(sub { my $s = eval { $t->status }; $s && $s->{helper}{pid} && $s->{helper}{pid} != $helper },
                 30, 'a new helper');
    my $rc = $wa->wait_match('history-receipt', id => $r->{id}, since => $since, timeout => 60);
    is($rc->{sync_type}, 'full', 'after a kill: the hist_sync receipt');
    is_deeply(rows(q{SELECT id FROM history_messages WHERE chat = ? AND id LIKE 'K%' ORDER BY id}, $bo_lid),
              [['K1'], ['K2']], 'after a kill: the chunk stored once');
    is(rows(q{SELECT count(*) FROM history_pending})->[0][0], 0, 'after a kill: nothing pending');
}

# --- nothing of the history went to Chatwoot --------------------------------
{
    my $s = ChatwootTest::FakeChatwoot->get_state($fake);
    my @posted = grep { ($_->{source_id} // '') =~ /^WAID:(B|R|K|F|X)\d$/ }
                 map { @{$_->{messages}} } @{$s->{conversations}};
    is(scalar @posted, 0, 'history messages are not posted to Chatwoot (import jobs do that)');
}

$t->finish;
done_testing;

# JSON with keys in the order the helper writes them (media_json in
# src/store/history_repository.cpp), for an exact comparison.
sub encode_json_canon {
    my ($h) = @_;
    my @order = qw(type media_key file_sha256 file_enc_sha256 file_length direct_path url mimetype file_name);
    return '{' . join(',', map {
        my $v = $h->{$_};
        defined $v ? (JSON::PP->new->encode([$_])=~s/^\[|\]$//gr) . ':'
                     . ($_ eq 'file_length' ? 0 + $v : JSON::PP->new->encode([$v]) =~ s/^\[|\]$//gr)
                   : ()
    } @order) . '}';
}
