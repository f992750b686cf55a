# History import jobs (issue 12, the REST path) through nginx, the loopback
# WhatsApp server's history chunks and the fake Chatwoot: a phone's chats
# (1:1 by phone number and by LID, a group) with messages inside and
# outside the window, one of them already bridged live.  POST
# /chatwoot/sync makes a job; afterwards each message of the window is in
# Chatwoot exactly once, in order per conversation, with its time prefix
# (UTC) and a group's sender; nothing outside the window; the status
# counts equal the fake's; a second run adds nothing (all skipped); a
# second job while one runs is 409 with its id; a helper killed -9 in the
# middle of an import (when the status shows posts) completes it after its
# restart with no duplicate; a live message sent during an import arrives
# with at most one import request before its post.
#
# Growing this into the issue's big test (200 chats, 20,000 messages over
# 30 days, two kills and a reload, the fake at 50 req/s answering 429 and
# 422): the chunk builder below takes any number of chats; the kill is
# kill_job_mid_way() (call it twice, and $t->reload once); the fake's
# faults (429_plain with a probability, 422_too_many on the messages path)
# are set with set_faults; the checks (in_window_once, in_order) are per
# chat and do not change.
use strict;
use warnings;
use utf8;
use lib 't/lib';
use ChatwootTest;
use ChatwootTest::WaMock;
use ChatwootTest::FakeChatwoot;
use JSON::PP;
use POSIX qw(strftime);
use Test::More;

my $t = ChatwootTest->new;
$t->allow_log(qr/cache manager process \d+ exited on signal 9/);
my $dir = $t->dir;
my $wa = ChatwootTest::WaMock->start_tls_media($t);
my ($port) = $t->start_wa(
    wa => $wa, directive => $wa->directive(tls => 1, ca_file => "$dir/ca.pem"),
    server => "        location /chatwoot/sync { chatwoot_import; }\n",
    inbox => { extra => "        concurrency 4;\n        throttle_backoff 20ms 200ms;\n        import_on_link on;\n        import_days 7;\n" });
my $fake = $t->{wa_setup}{fake};
my $p = $t->pair_qr($wa, 'main');
$wa->wait(type => 'passive', conn => $p->{login}{conn});

my $now = time;
my $day = 86400;

sub api {
    my ($method, $path, $body) = @_;
    my ($code, undef, $text) = $t->http($port, $method, "/chatwoot/sync$path",
        defined $body ? (body => ref $body ? encode_json($body) : $body,
                         headers => { 'Content-Type' => 'application/json' }) : ());
    return ($code, eval { decode_json($text) } // { raw => $text });
}

sub job { (api(GET => "/$_[0]"))[1] }

# Waits for the job's state (the snapshot the helper publishes: an event).
sub wait_job {
    my ($id, $want, $timeout) = @_;
    my $check = ref $want eq 'CODE' ? $want : sub { $_[0]{state} eq $want };
    return $t->wait_for(sub { my $j = job($id); $check->($j) ? $j : undef },
                        $timeout // 60, "import $id: " . (ref $want ? 'condition' : $want));
}

sub by_waid { ChatwootTest::FakeChatwoot->messages_by_waid($fake) }

sub prefix { strftime('[%Y-%m-%d %H:%M] ', gmtime $_[0]) }

# --- a live message first: the import must skip it -------------------------
my $ana = '4915100000001';
my $ana_pn = "$ana\@s.whatsapp.net";
$wa->wa_contact($ana, name => 'Ana');
my $live = $wa->wa_message(from => $ana, message => { conversation => 'live hello' }, push_name => 'Ana');
$t->wait_for(sub { by_waid()->{$live->{id}} }, 20, 'the live message in Chatwoot');

# --- the history: PN and LID chats, a group, in and out of the window -------
my $ana_lid = '900000000001@lid';
my $bo_lid = '900000000002@lid';
my $bo_pn = '4915100000002@s.whatsapp.net';
my $group = '120363000000000042@g.us';
my @window = (
    # id, chat, timestamp, text, from_me, participant, push_name
    ['A1', $ana_pn, $now - 3 * $day, 'hello from the past'],
    ['A2', $ana_pn, $now - 2 * $day, 'hi Ana', 1],
    ['A3', $ana_pn, $now - 1 * $day, 'from the recent chunk'],
    # Ana's LID chat: the same person, her one conversation, in time order.
    ['A4', $ana_lid, $now - 2 * $day + 30, 'Ana, by LID'],
    [$live->{id}, $ana_pn, $now - 60, 'live hello'],
    ['B1', $bo_lid, $now - 4 * $day, 'Bo, by LID'],
    ['B2', $bo_lid, $now - 4 * $day + 5, 'and again'],
    # An image WhatsApp still has: posted with its file, the caption as text.
    ['B3', $bo_lid, $now - 4 * $day + 9, 'the photo', 0, undef, undef,
     { kind => 'image', data => 'jpeg' x 1000, mimetype => 'image/jpeg', caption => 'the photo' }],
    ['G1', $group, $now - 1 * $day, 'in the group', 0, $bo_lid, 'Bo'],
    ['G2', $group, $now - 1 * $day + 60, 'mine in the group', 1],
);
my @outside = (['A0', $ana_pn, $now - 30 * $day, 'too old'], ['G0', $group, $now - 9 * $day, 'old', 0, $bo_lid]);
# Bo is in Chatwoot already, made by hand with only his number as a name:
# the contacts import names him.
{
    my ($c) = $t->http($fake, 'POST', '/api/v1/accounts/1/contacts',
        body => encode_json({ name => '+4915100000002', identifier => $bo_pn, phone_number => '+4915100000002' }),
        headers => { 'Content-Type' => 'application/json', api_access_token => 'test-api-token' });
    is($c, 200, 'Bo\'s contact made beforehand');
}
my %convs;
for my $m (grep { $_->[0] ne 'A3' } @window, @outside) {
    my ($id, $chat, $ts, $text, $from_me, $participant, $push, $media) = @$m;
    push @{$convs{$chat}}, { id => $id, timestamp => $ts, $media ? (media => $media) : (text => $text),
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
    is_deeply((api(GET => ''))[1]{imports}, [], 'import_on_link: no job before the recent chunk');
    # The recent chunk: with the bootstrap stored, the import starts by itself.
    $since = $wa->last_seq;
    $r = $wa->wa_history(type => 'recent', inline => 1, chunk_order => 1, progress => 100,
        conversations => [{ jid => $ana_pn, messages => [
            { id => 'A3', timestamp => $now - 1 * $day, text => 'from the recent chunk' }] }]);
    $wa->wait_match('history-receipt', id => $r->{id}, since => $since, timeout => 30);
}

# --- refused requests -------------------------------------------------------
{
    my ($code, $j) = api(POST => '', { inbox => 'main', days => 'seven' });
    is($code, 400, 'a wrong type: 400');
    like($j->{error}, qr/"days" must be a whole number/, '... naming the field');
    ($code, $j) = api(POST => '', { inbox => 'nobody' });
    is($code, 400, 'an unknown inbox: 400');
    ($code) = api(POST => '', '{"inbox":"' . ('a' x 5000) . '"}');
    is($code, 413, 'a body over the bound: 413');
    ($code) = api(PUT => '', {});
    is($code, 405, 'PUT: 405');
    ($code) = api(GET => '/00000000000000000000000000000000');
    is($code, 404, 'an unknown id: 404');
}

# --- the first import, import_on_link's: everything of the window, once ----
my $first = $t->wait_for(sub { (api(GET => ''))[1]{imports}[0] }, 30, 'the import_on_link job');
my $id = $first->{id};
like($id, qr/^[0-9a-f]{32}$/, 'import_on_link: a job with an id');
is_deeply([@$first{qw(what days include_media include_groups)}],
          ['all', 7, JSON::PP::true, JSON::PP::true], 'import_on_link: all of import_days');
my $done = wait_job($id, 'completed');
is($t->sql(q{SELECT count(*) FROM import_on_link WHERE inbox = 'main'})->[0][0], 1,
   'import_on_link: remembered, once');
my $by = by_waid();
for my $m (@window) {
    my ($wid, $chat, $ts, $text, $from_me, $participant, $push) = @$m;
    is(scalar @{$by->{$wid} // []}, 1, "$wid: once in Chatwoot");
    next if $wid eq $live->{id};
    my $want = prefix($ts) . ($chat eq $group && !$from_me ? "$push: " : '') . $text;
    is($by->{$wid}[0]{content}, $want, "$wid: time prefix (UTC)" . ($chat eq $group ? ', sender' : ''));
    is($by->{$wid}[0]{message_type}, $from_me ? 1 : 0, "$wid: " . ($from_me ? 'outgoing' : 'incoming'));
}
ok(!$by->{$_->[0]}, "$_->[0]: outside the window, not imported") for @outside;
is(scalar @{$by->{B3}[0]{attachments} // []}, 1, 'B3: the image WhatsApp still has, attached');
is(scalar(grep { @{$_->[0] eq 'B3' ? [] : $by->{$_->[0]}[0]{attachments} // []} } @window), 0,
   'no other message has a file');
is_deeply([glob("$t->{state}/media/main-*")], [], 'the fetched file removed once posted');
is($by->{B1}[0]{contact}, $bo_pn, 'the LID chat: under the person\'s phone number, one contact');
is($by->{A1}[0]{conversation}, $by->{$live->{id}}[0]{conversation},
   'the PN chat: the live conversation');
is_deeply([$by->{A4}[0]{contact}, $by->{A4}[0]{conversation}], [$ana_pn, $by->{A1}[0]{conversation}],
          'Ana\'s LID chat: her contact and conversation');
my $state = ChatwootTest::FakeChatwoot->get_state($fake);
for my $conv (@{$state->{conversations}}) {
    my @ids = map { ($_->{source_id} // '') =~ /^WAID:(.+)/ ? $1 : () } @{$conv->{messages}};
    my @imported = grep { $_ ne $live->{id} } @ids;
    my %ts = map { $_->[0] => $_->[2] } @window;
    is_deeply(\@imported, [sort { $ts{$a} <=> $ts{$b} || $a cmp $b } @imported],
              "conversation $conv->{display_id}: oldest first");
}
my $posted = grep { $_->[0] ne $live->{id} } @window;
is($done->{messages_done}, $posted, 'status: messages done = the fake\'s new messages');
is($done->{messages_skipped}, 1, 'status: the live one skipped');
is($done->{messages_total}, scalar @window, 'status: messages in the window');
is($done->{chats_total}, 3, 'status: three chats');
is($done->{chats_done}, 3, 'status: all done');
is($done->{contacts_done}, 2, 'status: Ana and Bo, one contact each');
my @people = grep { ($_->{identifier} // '') =~ /\@s\.whatsapp\.net$/ } @{$state->{contacts}};
is(scalar @people, 2, 'the fake has two people, not one per form');
my ($bo_contact) = grep { $_->{identifier} eq $bo_pn } @people;
is($bo_contact->{name}, 'Bo', 'the contacts import named the contact that had only its number');
ok($done->{finished_at} && $done->{started_at}, 'status: started and finished');
is((api(GET => '/status'))[1]{imports}[0]{id}, $id, 'GET <loc>/status lists the jobs');

# --- a second run adds nothing ----------------------------------------------
{
    my $before = scalar keys %{by_waid()};
    my ($c2, $j2) = api(POST => '', { device_id => 'main', days_limit => 7,
                                      include_groups => JSON::PP::true });
    is($c2, 202, 'a second run: 202');
    my $again = wait_job($j2->{id}, 'completed');
    is($again->{messages_done}, 0, 'a second run: nothing posted');
    is($again->{messages_skipped}, scalar @window, 'a second run: all skipped');
    is(scalar keys %{by_waid()}, $before, 'a second run: the fake has nothing new');
}

# --- a bigger chat, Chatwoot slow: 409, a kill mid-way, a live message ------
my $cy = '4915100000003@s.whatsapp.net';
my @many = map { { id => sprintf('C%03d', $_), timestamp => $now - 5 * $day + $_, text => "message $_" } } 1 .. 40;
{
    my $since = $wa->last_seq;
    my $r = $wa->wa_history(type => 'recent', inline => 1, chunk_order => 1, progress => 100,
                            conversations => [{ jid => $cy, name => 'Cy', messages => \@many }]);
    $wa->wait_match('history-receipt', id => $r->{id}, since => $since, timeout => 30);
}
# Chatwoot slow, throttled at 15 requests a second (429 beyond), and its
# per-conversation flood guard answering twice (422 "Too many messages").
ChatwootTest::FakeChatwoot->configure($fake, latency_ms => 150, rate_limit => 15);
ChatwootTest::FakeChatwoot->set_faults($fake, { method => 'POST', kind => '422_too_many',
    path_regex => 'conversations/\\d+/messages$', count => 2, skip => 3 });
my ($code, $j) = api(POST => '', { inbox => 'main', days => 7 });
is($code, 202, 'the third import: 202');
my $third = $j->{id};
wait_job($third, sub { $_[0]{state} eq 'running' });
{
    my ($c409, $conflict) = api(POST => '', { inbox => 'main' });
    is($c409, 409, 'a job while one runs: 409');
    is($conflict->{id}, $third, '... with the running job\'s id');
}

# Killed when the status shows posts, with more left.
wait_job($third, sub { $_[0]{messages_done} >= 5 });
my $left = $t->kill_helper_busy(
    ready => sub { 1 },
    busy => sub { ChatwootTest::FakeChatwoot->messages_by_waid($fake)->{C040} ? 0 : 1 },
    what => 'the helper importing');
ok($left, 'killed -9 in the middle of the import');
$t->wait_helper_running;

# A live message while the import goes on again.
my $requests_before = scalar @{ChatwootTest::FakeChatwoot->get_state($fake)->{requests}};
my $since = $wa->last_seq;
my $live2 = $wa->wa_message(from => $ana, message => { conversation => 'live during the import' });
$wa->wait_receipt_in(id => $live2->{id}, since => $since);
my $at_receipt = scalar @{ChatwootTest::FakeChatwoot->get_state($fake)->{requests}};
$t->wait_for(sub { by_waid()->{$live2->{id}} }, 30, 'the live message during the import in Chatwoot');
my $after = wait_job($third, 'completed', 120);
{
    my $reqs = ChatwootTest::FakeChatwoot->get_state($fake)->{requests};
    my ($live_at) = grep { ($reqs->[$_]{params}{source_id} // '') eq "WAID:$live2->{id}" } 0 .. $#$reqs;
    ok(defined $live_at, 'the live message\'s post is in the fake\'s log');
    my $imports_between = grep { ($reqs->[$_]{params}{source_id} // '') =~ /^WAID:C\d+$/ }
        $at_receipt .. ($live_at // 0) - 1;
    cmp_ok($imports_between, '<=', 1,
           'at most one import request reached Chatwoot between the live message and its post');
}
$by = by_waid();
is(scalar(grep { @{$by->{$_->{id}} // []} == 1 } @many), scalar @many,
   'after the kill: each of the 40 messages once in Chatwoot');
my @c_ids = grep { /^C\d+$/ } map { ($_->{source_id} // '') =~ /^WAID:(.+)/ ? $1 : () }
    map { @{$_->{messages}} } @{ChatwootTest::FakeChatwoot->get_state($fake)->{conversations}};
is_deeply(\@c_ids, [map { $_->{id} } @many], 'after the kill: in order, none twice');
is($after->{messages_done} + $after->{messages_skipped}, $after->{messages_total},
   'the status adds up');
is($after->{messages_failed}, 0, 'nothing failed');
{
    my $reqs = ChatwootTest::FakeChatwoot->get_state($fake)->{requests};
    ok((grep { ($_->{fault} // '') eq 'rate_limit' } @$reqs), 'Chatwoot\'s throttle answered 429 on the way');
    is((grep { ($_->{fault} // '') eq '422_too_many' } @$reqs), 2, 'and its flood guard 422 twice');
}

$t->finish;
done_testing;
