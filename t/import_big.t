# The big history import (issue 12's test), through nginx, the loopback
# WhatsApp server's history chunks and the fake Chatwoot: a phone with
# IMPORT_BIG_CHATS chats and IMPORT_BIG_MESSAGES messages over 30 days
# (groups with their senders, media, PN chats and LID chats, a person with
# both, chats already bridged live) sent as several chunks; an import of 7
# days; the helper killed -9 twice and nginx reloaded once during the
# import (each when the status shows a share of the messages done); the
# fake Chatwoot throttled at 50 requests a second (429 beyond, as
# rack-attack) and answering 422 "Too many messages" for a conversation
# flood (its flood_limit; its clock moved on a minute after each 422, so
# that the flood passes without waiting for it).  Afterwards: every message
# of the window once in Chatwoot, in order per conversation, one contact per
# person, nothing outside the window; a live message sent during the import
# arrives with at most one import request per free slot before its post;
# the status counts equal the fake's; a second run adds nothing.
#
# The defaults keep it within `./build.sh test`; `./build.sh chaos` runs the
# issue's sizes (IMPORT_BIG_CHATS=200 IMPORT_BIG_MESSAGES=20000).
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest;
use ChatwootTest::WaMock;
use ChatwootTest::FakeChatwoot;
use JSON::PP;
use POSIX qw(strftime);
use Test::More;

my $CHATS = $ENV{IMPORT_BIG_CHATS} // 24;
my $MESSAGES = $ENV{IMPORT_BIG_MESSAGES} // 1200;
my $CONCURRENCY = 4;
my $PER_CHAT = int($MESSAGES / $CHATS);
my $scale = $MESSAGES / 1200;   # timeouts grow with the run

my $t = ChatwootTest->new;
$t->allow_log(qr/cache manager process \d+ exited on signal 9/);
my $dir = $t->dir;
my $wa = ChatwootTest::WaMock->start_tls_media($t);
my ($port) = $t->start_wa(
    wa => $wa, directive => $wa->directive(tls => 1, ca_file => "$dir/ca.pem"),
    server => "        location /chatwoot/sync { chatwoot_import; }\n",
    inbox => { extra => "        concurrency $CONCURRENCY;\n        throttle_backoff 10ms 100ms;\n" });
my $fake = $t->{wa_setup}{fake};
my $p = $t->pair_qr($wa, 'main');
$wa->wait(type => 'passive', conn => $p->{login}{conn});

my $now = time;
my $day = 86400;
my $since = $now - 7 * $day;   # the window's start (the job's is a little later)

sub api {
    my ($method, $path, $body) = @_;
    my ($code, undef, $text) = $t->http($port, $method, "/chatwoot/sync$path",
        defined $body ? (body => encode_json($body), headers => { 'Content-Type' => 'application/json' }) : ());
    return ($code, eval { decode_json($text) } // { raw => $text });
}
sub job { (api(GET => "/$_[0]"))[1] }
sub state { ChatwootTest::FakeChatwoot->get_state($fake) }
sub by_waid { ChatwootTest::FakeChatwoot->messages_by_waid($fake) }
sub prefix { strftime('[%Y-%m-%d %H:%M] ', gmtime $_[0]) }

# --- the phone -------------------------------------------------------------
# Chat c: c % 6 == 0 a group (three members by LID, with push names); 1 a
# person by phone number; 2 the same person as chat c-1, by LID (one
# person, one conversation); else a person by phone number.
my (@chats, %msg);
for my $c (1 .. $CHATS) {
    my $pn = sprintf('49170%08d@s.whatsapp.net', $c);
    my %chat = (n => $c);
    if ($c % 6 == 0) {
        %chat = (%chat, jid => sprintf('1203630000%08d@g.us', $c), name => "Group $c", group => 1);
    } elsif ($c % 6 == 2) {
        %chat = (%chat, jid => sprintf('9170%08d@lid', $c), pn_jid => sprintf('49170%08d@s.whatsapp.net', $c - 1),
                 name => 'Person ' . ($c - 1));
    } else {
        %chat = (%chat, jid => $pn, name => "Person $c");
    }
    my @m;
    for my $k (1 .. $PER_CHAT) {
        # Spread over 30 days, none within two hours of the window's start.
        my $ts = int($now - 30 * $day + ($k - 0.5) * 30 * $day / $PER_CHAT) + $c * 7;
        $ts += 4 * 3600 if abs($ts - $since) < 2 * 3600;
        next if $ts > $now - 120;
        my %m = (id => sprintf('H%03dM%05d', $c, $k), timestamp => $ts, chat => $c);
        if (($c * 31 + $k) % 40 == 0) {
            $m{media} = { kind => 'image', data => "image $c $k " x 50, mimetype => 'image/jpeg', caption => "photo $k" };
        } else {
            $m{text} = "message $k of chat $c";
        }
        $m{from_me} = 1 if $k % 5 == 0;
        if ($chat{group} && !$m{from_me}) {
            my $who = $k % 3;
            $m{participant} = sprintf('9171%06d%02d@lid', $c, $who);
            $m{push_name} = "Member $who of $c";
        }
        push @m, \%m;
        $msg{$m{id}} = \%m;
    }
    $chat{messages} = \@m;
    push @chats, \%chat;
}
# Chats 3 and 4 are bridged live already: a message from each arrives
# live, and the phone's history has it too.
my @live_first;
for my $c (@chats[2, 3]) {
    (my $from = $c->{jid}) =~ s/\@.*//;
    $wa->wa_contact($from, name => $c->{name});
    my $l = $wa->wa_message(from => $from, message => { conversation => "live $c->{n}" }, push_name => $c->{name});
    push @live_first, $l->{id};
    my %m = (id => $l->{id}, timestamp => $now - 60, text => "live $c->{n}", chat => $c->{n}, live => 1);
    push @{$c->{messages}}, \%m;
    $msg{$l->{id}} = \%m;
}
$t->wait_for(sub { my $b = by_waid(); !grep { !$b->{$_} } @live_first }, 30, 'the live messages in Chatwoot');

# Sent as chunks of up to 6 chats (the first the bootstrap), as blobs.
{
    my $order = 0;
    for (my $i = 0; $i < @chats; $i += 6) {
        my @part = @chats[$i .. ($i + 5 < $#chats ? $i + 5 : $#chats)];
        my @convs = map {
            my $c = $_;
            { jid => $c->{jid}, name => $c->{name}, $c->{pn_jid} ? (pn_jid => $c->{pn_jid}) : (),
              messages => [map { my $m = $_;
                                 { id => $m->{id}, timestamp => $m->{timestamp},
                                   $m->{media} ? (media => $m->{media}) : (text => $m->{text}),
                                   $m->{from_me} ? (from_me => 1) : (),
                                   $m->{participant} ? (participant => $m->{participant}, push_name => $m->{push_name}) : () } }
                           @{$c->{messages}}] }
        } @part;
        my $seq = $wa->last_seq;
        my $r = $wa->wa_history(type => $order == 0 ? 'initial_bootstrap' : 'recent', chunk_order => $order++,
                                progress => 100, conversations => \@convs);
        $wa->wait_match('history-receipt', id => $r->{id}, since => $seq, timeout => 60 * $scale);
    }
}
my @in = grep { $_->{timestamp} >= $since } values %msg;
my @out = grep { $_->{timestamp} < $since } values %msg;
cmp_ok(scalar @out, '>', 0, 'the phone has messages outside the window');

# --- Chatwoot at its limits; the import -------------------------------------
ChatwootTest::FakeChatwoot->configure($fake, rate_limit => 50, flood_limit => 8);
my ($code, $j) = api(POST => '', { inbox => 'main', days => 7, include_media => JSON::PP::true,
                                   include_groups => JSON::PP::true });
is($code, 202, 'the import: 202');
my $id = $j->{id};

# Waits for the job (an event: the snapshot), moving the fake's clock on a
# minute after each flood answer (422), so the flood passes.
my $floods = 0;
my $seen_requests = 0;
sub drive {
    my ($check, $what, $timeout) = @_;
    return $t->wait_for(sub {
        my $reqs = state()->{requests};
        my @new = @$reqs[$seen_requests .. $#$reqs];
        $seen_requests = @$reqs;
        if (grep { ($_->{status} // 0) == 422 } @new) {
            $floods++;
            ChatwootTest::FakeChatwoot->configure($fake, clock_offset => 61 * $floods);
        }
        my $s = job($id);
        return $check->($s) ? $s : undef;
    }, $timeout // 120 * $scale, $what);
}
my $total = scalar @in;
sub share { my ($f) = @_; sub { ($_[0]{messages_done} // 0) + ($_[0]{messages_skipped} // 0) >= $f * $total } }

# A kill at a quarter, a reload at half, a kill at three quarters.
drive(share(0.25), 'a quarter of the import');
ok($t->kill_helper_busy(ready => sub { 1 }, busy => sub { job($id) }, what => 'the helper importing'),
   'killed -9 at a quarter of the import');
$t->wait_helper_running;

# A live message while the import goes on.
my ($live, $at_receipt);
{
    my $c = $chats[0]{group} ? $chats[1] : $chats[0];
    (my $from = $c->{jid}) =~ s/\@.*//;
    $wa->wa_contact($from, name => $c->{name});
    my $seq = $wa->last_seq;
    $live = $wa->wa_message(from => $from, message => { conversation => 'live during the import' });
    $wa->wait_receipt_in(id => $live->{id}, since => $seq, timeout => 60);
    $at_receipt = scalar @{state()->{requests}};
}
drive(share(0.5), 'half of the import');
$t->reload;
drive(share(0.75), 'three quarters of the import');
ok($t->kill_helper_busy(ready => sub { 1 }, busy => sub { job($id) }, what => 'the helper importing'),
   'killed -9 at three quarters of the import');
$t->wait_helper_running;
my $done = drive(sub { $_[0]{state} eq 'completed' }, 'the import completed');

# --- afterwards ---------------------------------------------------------------
my $state = state();
my $by = by_waid();
my @live_ids = (@live_first, $live->{id});
is(scalar(grep { @{$by->{$_->{id}} // []} == 1 } @in), scalar @in,
   "every message of the window once in Chatwoot ($total)");
is(scalar(grep { $by->{$_->{id}} } @out), 0, 'nothing outside the window');
is(scalar(grep { @{$by->{$_} // []} == 1 } @live_ids), scalar @live_ids, 'the live messages once');
{
    my @wrong;
    for my $m (grep { !$_->{live} } @in) {
        my $c = $chats[$m->{chat} - 1];
        my $want = prefix($m->{timestamp}) . ($c->{group} && !$m->{from_me} ? "$m->{push_name}: " : '')
            . ($m->{media} ? '' : $m->{text});
        my $got = $by->{$m->{id}}[0] // next;
        push @wrong, $m->{id} unless $m->{media} ? ($got->{content} // '') =~ /\Q$m->{media}{caption}\E|^\Q$want\E/
                                                  : $got->{content} eq $want;
        push @wrong, "$m->{id} type" unless $got->{message_type} == ($m->{from_me} ? 1 : 0);
    }
    is_deeply(\@wrong, [], 'each with its time prefix, a group\'s sender, its direction');
}
my %live = map { $_ => 1 } @live_ids;
my $disorder = 0;
for my $conv (@{$state->{conversations}}) {
    my @ids = grep { $msg{$_} && !$live{$_} } map { ($_->{source_id} // '') =~ /^WAID:(.+)/ ? $1 : () } @{$conv->{messages}};
    my @sorted = sort { $msg{$a}{timestamp} <=> $msg{$b}{timestamp} || $a cmp $b } @ids;
    $disorder++ if "@ids" ne "@sorted";
}
is($disorder, 0, 'in order in every conversation');
{
    my %per_phone;
    $per_phone{$_->{phone_number}}++ for grep { $_->{phone_number} } @{$state->{contacts}};
    is_deeply([grep { $per_phone{$_} > 1 } sort keys %per_phone], [], 'one contact per person (no phone twice)');
    my %conv_of;
    for my $m (grep { !$live{$_->{id}} } @in) {
        my $c = $chats[$m->{chat} - 1];
        my $person = $c->{group} ? $c->{jid} : ($c->{pn_jid} // $c->{jid});
        $conv_of{$person}{$by->{$m->{id}}[0]{conversation} // 'none'} = 1;
    }
    is_deeply([grep { keys %{$conv_of{$_}} != 1 } sort keys %conv_of], [],
              'one conversation per person and per group (a PN and a LID chat together)');
}
{
    my $reqs = $state->{requests};
    my ($live_at) = grep { ($reqs->[$_]{params}{source_id} // '') eq "WAID:$live->{id}" } 0 .. $#$reqs;
    ok(defined $live_at, 'the live message\'s post is in the fake\'s log');
    my $imports = grep { ($reqs->[$_]{params}{source_id} // '') =~ /^WAID:H/ && !defined $reqs->[$_]{fault} }
        $at_receipt .. ($live_at // 0) - 1;
    cmp_ok($imports, '<=', $CONCURRENCY,
           'the live message: at most one import request per slot before its post');
    ok((grep { ($_->{fault} // '') eq 'rate_limit' } @$reqs), 'Chatwoot\'s throttle answered 429 on the way');
    cmp_ok($floods, '>', 0, 'and its flood guard 422');
}
my $posted = grep { !$live{$_->{id}} } @in;
my $fake_imported = grep { !$live{$_} && @{$by->{$_}} } grep { $msg{$_} } keys %$by;
is($done->{messages_total}, $total, 'status: messages in the window');
is($done->{messages_done} + $done->{messages_skipped}, $total, 'status: done and skipped add up');
cmp_ok($done->{messages_done}, '<=', $fake_imported, 'status: posted <= the fake\'s imported messages');
is($fake_imported, $posted, 'the fake: every imported message');
is($done->{messages_failed}, 0, 'status: none failed');
is($done->{chats_done}, $done->{chats_total}, 'status: all chats done');
is($done->{chats_total}, $CHATS - int(($CHATS + 4) / 6), 'status: one job chat per person and per group');

# --- a second run adds nothing --------------------------------------------------
{
    my $before = scalar keys %{by_waid()};
    my ($c2, $j2) = api(POST => '', { inbox => 'main', days => 7, include_groups => JSON::PP::true });
    is($c2, 202, 'a second run: 202');
    $id = $j2->{id};
    my $again = drive(sub { $_[0]{state} eq 'completed' }, 'the second run completed');
    is($again->{messages_done}, 0, 'a second run: nothing posted');
    is($again->{messages_skipped}, $total, "a second run: all skipped") or diag explain $again;
    is(scalar keys %{by_waid()}, $before, 'a second run: the fake has nothing new');
}

$t->finish;
done_testing;
