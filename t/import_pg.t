# History import jobs through Chatwoot's PostgreSQL (issue 12, "Original
# timestamps through PostgreSQL"), through nginx: a real PostgreSQL
# (ChatwootTest::Postgres, Chatwoot's tables) named by the inbox's
# import_database, the loopback WhatsApp server's history chunks (PN and
# LID chats of one person, a group, messages in and out of the window),
# POST /chatwoot/sync.  Afterwards, in PostgreSQL: each message of the
# window once, created_at equal to WhatsApp's timestamp, nothing outside,
# one contact per person, the group's sender names; the status counts
# equal the rows; a second import adds nothing.  A helper killed -9 with a
# chat in flight (held by the test on the writer's own per-chat advisory
# lock) completes after its restart with nothing twice; PostgreSQL crashed
# mid-import: the status shows the error, and the job completes once the
# server is back; an inbox of another account in the database: the job
# fails with the check's reason.
use strict;
use warnings;
use utf8;
use lib 't/lib';
use ChatwootTest;
use ChatwootTest::WaMock;
use ChatwootTest::Postgres;
use JSON::PP;
use Test::More;

my $pg = ChatwootTest::Postgres->start;
# The nginx side's inbox is 7 of account 1 (start_wa): Chatwoot's rows for it.
$pg->psql_do(q{INSERT INTO channel_api (id, account_id, webhook_url, created_at, updated_at,
               identifier, hmac_token) VALUES (7, 1, '', now(), now(), 'api-ident-7', 'hmac-7')});
$pg->psql_do(q{INSERT INTO inboxes (id, channel_id, account_id, name, created_at, updated_at,
               channel_type) VALUES (7, 7, 1, 'WhatsApp', now(), now(), 'Channel::Api')});

my $t = ChatwootTest->new;
$t->allow_log(qr/cache manager process \d+ exited on signal 9/);
$t->allow_log(qr/PostgreSQL|import \w+ failed/);
# The media host over TLS: the phone's answers to history requests (the
# runner asks for chats whose stored history starts inside the window) are
# downloaded chunks.
my $dir = $t->dir;
my $wa = ChatwootTest::WaMock->start_tls_media($t);
my $url = $pg->url;
my ($port) = $t->start_wa(
    wa => $wa, directive => $wa->directive(tls => 1, ca_file => "$dir/ca.pem"),
    server => "        location /chatwoot/sync { chatwoot_import; }\n",
    inbox => { extra => "        concurrency 4;\n        import_database \"$url\";\n" });
my $p = $t->pair_qr($wa, 'main');
$wa->wait(type => 'passive', conn => $p->{login}{conn});

my $now = time;
my $day = 86400;

sub api {
    my ($method, $path, $body) = @_;
    my ($code, undef, $text) = $t->http($port, $method, "/chatwoot/sync$path",
        defined $body ? (body => encode_json($body),
                         headers => { 'Content-Type' => 'application/json' }) : ());
    return ($code, eval { decode_json($text) } // { raw => $text });
}
sub job { (api(GET => "/$_[0]"))[1] }
sub wait_job {
    my ($id, $want, $timeout) = @_;
    my $check = ref $want eq 'CODE' ? $want : sub { ($_[0]{state} // '') eq $want };
    my $last;
    my $j = eval {
        $t->wait_for(sub { $last = job($id); $check->($last) ? $last : undef },
                     $timeout // 60, "import $id: " . (ref $want ? 'condition' : $want));
    };
    unless ($j) {
        diag explain $last;
        # What the helpers said, for the one reading a failure.
        my @log = grep { /chatwoot helper|exited on signal/ } split /\n/, $t->read_file('error.log');
        diag join "\n", @log[($#log > 40 ? $#log - 40 : 0) .. $#log];
    }
    die $@ unless $j;
    return $j;
}
sub start_import {
    my ($code, $j) = api(POST => '', { inbox => 'main', what => 'messages', days => 7 });
    is($code, 202, 'an import: 202') or diag explain $j;
    return $j->{id};
}
# WAID:<id> => [created_at as unix seconds, conversation, contact identifier, content]
sub rows {
    my %by;
    for my $r (@{$pg->psql(q{SELECT m.source_id, extract(epoch FROM m.created_at)::bigint,
            m.conversation_id, c.identifier, m.content, m.message_type FROM messages m
            JOIN conversations v ON v.id = m.conversation_id JOIN contacts c ON c.id = v.contact_id
            WHERE m.inbox_id = 7 AND m.source_id LIKE 'WAID:%'})}) {
        my ($sid, @rest) = @$r;
        push @{$by{$sid =~ s/^WAID://r}}, \@rest;
    }
    return \%by;
}
sub history {
    my (@conversations) = @_;
    my $since = $wa->last_seq;
    my $r = $wa->wa_history(type => 'recent', inline => 1, chunk_order => 1, progress => 100,
                            conversations => \@conversations);
    $wa->wait_match('history-receipt', id => $r->{id}, since => $since, timeout => 30);
}
# A session of the superuser holding the writer's per-chat advisory lock
# (pg_statements.cpp: "chatwoot-import:<account>:<inbox>:<chat>"): that
# chat's transaction waits on it.  Closing the pipe ends the session.
sub hold_chat {
    my ($chat) = @_;
    open(my $fh, '|-', $pg->as_server($pg->psql_cmd), '-o', '/dev/null') or die "psql: $!";
    $fh->autoflush(1);
    print $fh "SELECT pg_advisory_lock(hashtextextended('chatwoot-import:1:7:$chat', 0));\n";
    $t->wait_for(sub { $pg->value(q{SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'
                                    AND granted}) > 0 }, 10, "the lock on $chat held");
    return $fh;
}
sub waiting_on_lock {
    $pg->value(q{SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted}) > 0;
}

# --- the history: PN and LID chats, a group, in and out of the window -------
my $ana_pn = '4915100000001@s.whatsapp.net';
my $ana_lid = '900000000001@lid';
my $bo_lid = '900000000002@lid';
my $bo_pn = '4915100000002@s.whatsapp.net';
my $group = '120363000000000042@g.us';
my @window = (
    # id, chat, timestamp, text, from_me, participant, push_name
    ['A1', $ana_pn, $now - 3 * $day, 'hello from the past'],
    ['A2', $ana_pn, $now - 2 * $day, 'hi Ana', 1],
    ['A3', $ana_pn, $now - 1 * $day, 'and today'],
    ['A4', $ana_lid, $now - 2 * $day + 30, 'Ana, by LID'],
    ['B1', $bo_lid, $now - 4 * $day, 'Bo, by LID'],
    ['B2', $bo_lid, $now - 4 * $day + 5, 'and again'],
    ['G1', $group, $now - 1 * $day, 'in the group', 0, $bo_lid, 'Bo'],
    ['G2', $group, $now - 1 * $day + 60, 'mine in the group', 1],
);
my @outside = (['A0', $ana_pn, $now - 30 * $day, 'too old'],
               ['G0', $group, $now - 9 * $day, 'old', 0, $bo_lid, 'Bo']);
my %convs;
for my $m (@window, @outside) {
    my ($id, $chat, $ts, $text, $from_me, $participant, $push) = @$m;
    push @{$convs{$chat}}, { id => $id, timestamp => $ts, text => $text,
                             $from_me ? (from_me => 1) : (),
                             $participant ? (participant => $participant) : (),
                             $push ? (push_name => $push) : () };
}
{
    my $since = $wa->last_seq;
    my $r = $wa->wa_history(type => 'initial_bootstrap', inline => 1, chunk_order => 0, progress => 100,
        conversations => [
            { jid => $ana_pn, name => 'Ana', messages => $convs{$ana_pn} },
            { jid => $ana_lid, pn_jid => $ana_pn, messages => $convs{$ana_lid} },
            { jid => $bo_lid, pn_jid => $bo_pn, messages => $convs{$bo_lid} },
            { jid => $group, name => 'Team', messages => $convs{$group} },
        ],
        push_names => [{ jid => $bo_lid, name => 'Bo' }]);
    $wa->wait_match('history-receipt', id => $r->{id}, since => $since, timeout => 30);
}

# --- the first import: the window, once, with WhatsApp's timestamps --------
my $id = start_import();
my $done = wait_job($id, 'completed');
my $by = rows();
for my $m (@window) {
    my ($wid, $chat, $ts, $text, $from_me, $participant, $push) = @$m;
    is(scalar @{$by->{$wid} // []}, 1, "$wid: once in PostgreSQL");
    is($by->{$wid}[0][0], $ts, "$wid: created_at is WhatsApp's timestamp");
    is($by->{$wid}[0][4], $from_me ? 1 : 0, "$wid: " . ($from_me ? 'outgoing' : 'incoming'));
    like($by->{$wid}[0][3], qr/\Q$text\E/, "$wid: its text");
    like($by->{$wid}[0][3], qr/\bBo\b.*\Q$text\E/, "$wid: the sender's name")
        if $chat eq $group && !$from_me;
}
ok(!$by->{$_->[0]}, "$_->[0]: outside the window, not imported") for @outside;
is($by->{B1}[0][2], $bo_pn, 'the LID chat: under the person\'s phone number');
is_deeply([$by->{A4}[0][1], $by->{A4}[0][2]], [$by->{A1}[0][1], $ana_pn],
          'Ana\'s LID chat: her contact and conversation');
is($pg->value(q{SELECT count(*) FROM contacts WHERE account_id = 1
                AND identifier IN ('} . join("','", $ana_pn, $ana_lid, $bo_pn, $bo_lid) . q{')}), 2,
   'one contact per person');
is($done->{messages_done}, scalar @window, 'status: messages done = rows written');
is($pg->value(q{SELECT count(*) FROM messages WHERE inbox_id = 7}), scalar @window,
   'PostgreSQL has the window\'s messages, nothing else');
is($done->{messages_skipped} + $done->{messages_failed}, 0, 'status: nothing skipped or failed');
is($done->{chats_done}, 3, 'status: three chats');

# --- a second run adds nothing ----------------------------------------------
{
    my $again = wait_job(start_import(), 'completed');
    is($again->{messages_done}, 0, 'a second run: nothing written');
    is($again->{messages_skipped}, scalar @window, 'a second run: all skipped');
    is($pg->value(q{SELECT count(*) FROM messages WHERE inbox_id = 7}), scalar @window,
       'a second run: PostgreSQL has nothing new');
}

# --- a helper killed -9 with a chat in flight -------------------------------
my $cy = '4915100000003@s.whatsapp.net';
my $dy = '4915100000004@s.whatsapp.net';
my @cy = map { { id => sprintf('C%03d', $_), timestamp => $now - 5 * $day + $_, text => "message $_" } } 1 .. 300;
my @dy = map { { id => sprintf('D%03d', $_), timestamp => $now - 5 * $day + $_, text => "dy $_" } } 1 .. 250;
history({ jid => $cy, name => 'Cy', messages => \@cy }, { jid => $dy, name => 'Dy', messages => \@dy });
{
    my $lock = hold_chat($cy);
    my $third = start_import();
    # Dy written (a count in the status), Cy waiting on the lock: in flight.
    wait_job($third, sub { ($_[0]{messages_done} // 0) >= 250 });
    $t->wait_for(\&waiting_on_lock, 30, 'Cy\'s transaction waiting on the lock');
    my $left = $t->kill_helper_busy(ready => sub { 1 },
        busy => sub { $pg->value(q{SELECT count(*) FROM messages WHERE source_id LIKE 'WAID:C%'}) == 0 },
        what => 'the helper importing');
    ok($left, 'killed -9 with Cy in flight, none of it written');
    close $lock;
    $t->wait_helper_running(30);
    my $after = wait_job($third, 'completed', 120);
    $by = rows();
    is(scalar(grep { @{$by->{$_->{id}} // []} == 1 } @cy, @dy), @cy + @dy,
       'after the kill: each message of Cy and Dy once');
    is(scalar(grep { $by->{$_->{id}}[0][0] == $_->{timestamp} } @cy), scalar @cy,
       'after the kill: WhatsApp\'s timestamps');
    is($after->{messages_done} + $after->{messages_skipped}, $after->{messages_total},
       'the status adds up');
    is($after->{messages_failed}, 0, 'nothing failed');
}
is($pg->value(q{SELECT count(*) FROM (SELECT source_id FROM messages WHERE inbox_id = 7
                GROUP BY 1 HAVING count(*) > 1) d}), 0, 'no message twice');

# --- PostgreSQL crashed mid-import ------------------------------------------
my $ed = '4915100000005@s.whatsapp.net';
my @ed = map { { id => sprintf('E%03d', $_), timestamp => $now - 2 * $day + $_, text => "ed $_" } } 1 .. 50;
history({ jid => $ed, name => 'Ed', messages => \@ed });
{
    my $lock = hold_chat($ed);
    my $fourth = start_import();
    $t->wait_for(\&waiting_on_lock, 30, 'Ed\'s transaction waiting on the lock');
    $pg->stop('immediate');
    close $lock;
    my $failing = wait_job($fourth, sub { ($_[0]{last_error} // '') ne '' }, 30);
    like($failing->{last_error}, qr/PostgreSQL/, 'the status shows the database\'s error');
    is($failing->{state}, 'running', '... and the job goes on');
    $pg->start_again;
    my $after = wait_job($fourth, 'completed', 60);
    is($after->{messages_done}, scalar @ed, 'after the restart: Ed\'s messages written');
    is($pg->value(q{SELECT count(*) FROM messages WHERE source_id LIKE 'WAID:E%'}), scalar @ed,
       'each once');
}

# --- the inbox of another account: the job fails with the check's reason ----
$pg->psql_do('UPDATE inboxes SET account_id = 2 WHERE id = 7');
history({ jid => '4915100000006@s.whatsapp.net', name => 'Fa',
          messages => [{ id => 'F001', timestamp => $now - $day, text => 'fa' }] });
# A new helper: its writers connect, and so check, again.
$t->kill_helper_busy(ready => sub { 1 }, busy => sub { 1 }, what => 'the helper');
$t->wait_helper_running(30);
{
    my $failed = wait_job(start_import(), 'failed', 120);
    like($failed->{last_error}, qr/inbox|account/i, 'failed with the check\'s reason');
    is($pg->value(q{SELECT count(*) FROM messages WHERE source_id = 'WAID:F001'}), 0,
       'nothing written');
    note $failed->{last_error};
}

$t->finish;
$pg->shutdown;
done_testing;
