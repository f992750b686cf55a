#!/usr/bin/perl
# Benchmark, not a test: history import into the fake Chatwoot through the
# REST path (issue 12's benchmark).  One paired live device; our phone
# (the loopback WhatsApp server) sends its history in chunks; POST
# /chatwoot/sync imports 7 days of it.
#
#   uncapped  the fake answering at once, no throttle: messages/s from the
#             first import POST the fake receives to the last one.
#   capped    the fake throttled like Chatwoot's rack-attack at CAP
#             requests a second (429 beyond it, the request not performed):
#             requests/s the fake performed over the phase, and its ratio to
#             CAP (target >= 95%: the limit is Chatwoot's, not ours), and the
#             messages/s that gives (each chat's contact and conversation
#             take requests too).
#   pg        t/bench/import_pg.pl's figure (a real PostgreSQL), when
#             build/core/pg_import_bench is built.
#
# Each phase is checked first: every message of the window once in the
# fake, the job completed with none failed.
# BENCH_IMPORT_CHATS (50) x BENCH_IMPORT_PER_CHAT (40) uncapped;
# BENCH_IMPORT_CAPPED_CHATS (25) x the same capped; BENCH_IMPORT_CAP (50);
# BENCH_IMPORT_CONCURRENCY (the inbox's, 8), BENCH_IMPORT_BACKOFF (its
# throttle_backoff, "10ms 100ms").
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use ChatwootTest;
use ChatwootTest::WaMock;
use ChatwootTest::FakeChatwoot;
use JSON::PP;
use Time::HiRes qw(time sleep);

my $CHATS = $ENV{BENCH_IMPORT_CHATS} // 50;
my $PER_CHAT = $ENV{BENCH_IMPORT_PER_CHAT} // 40;
my $CAPPED_CHATS = $ENV{BENCH_IMPORT_CAPPED_CHATS} // 25;
my $CAP = $ENV{BENCH_IMPORT_CAP} // 50;
my $CONCURRENCY = $ENV{BENCH_IMPORT_CONCURRENCY} // 8;
# How long the inbox holds back after a 429 (throttle_backoff: Chatwoot's
# default throttle is per minute; the fake's here is per second).
my $BACKOFF = $ENV{BENCH_IMPORT_BACKOFF} // '10ms 100ms';
/^[1-9]\d*$/ or die "BENCH_IMPORT_* values are positive whole numbers\n"
    for $CHATS, $PER_CHAT, $CAPPED_CHATS, $CAP, $CONCURRENCY;
my $ROOT = "$FindBin::Bin/../..";

my $t = ChatwootTest->new;
my $dir = $t->dir;
$t->tls_test_certs('ca');   # history blobs come from the media host (TLS)
my $wa = ChatwootTest::WaMock->start($t, args => ['--tls-cert', "$dir/server.pem", '--tls-key',
                                                   "$dir/server.key", '--media-host', 'localhost']);
my ($port) = $t->start_wa(
    wa => $wa, directive => $wa->directive(tls => 1, ca_file => "$dir/ca.pem"),
    fake => { flood_limit => 1_000_000 },
    server => "        location /chatwoot/sync { chatwoot_import; }\n",
    inbox => { extra => "        concurrency $CONCURRENCY;\n        throttle_backoff $BACKOFF;\n" });
my $fake = $t->{wa_setup}{fake};
my $p = $t->pair_qr($wa, 'main');
$wa->wait(type => 'passive', conn => $p->{login}{conn}, timeout => 30);
my $now = time;
my $chunk_order = 0;

sub api {
    my ($method, $path, $body) = @_;
    my ($code, undef, $text) = $t->http($port, $method, "/chatwoot/sync$path",
        defined $body ? (body => encode_json($body), headers => { 'Content-Type' => 'application/json' }) : ());
    return ($code, eval { decode_json($text) } // { raw => $text });
}

# $n chats of $PER_CHAT messages within the last 6 days (PN chats), sent
# as chunks of 10 chats each; their message ids.
sub history {
    my ($tag, $first, $n) = @_;
    my @ids;
    for (my $c = $first; $c < $first + $n; $c += 10) {
        my @convs;
        for my $k ($c .. ($c + 9 < $first + $n ? $c + 9 : $first + $n - 1)) {
            my $jid = sprintf('49153%08d@s.whatsapp.net', $k);
            my @m = map { { id => sprintf('%s%05dM%04d', $tag, $k, $_),
                            timestamp => int($now - 6 * 86400 + $k * 60 + $_), text => "message $_ of chat $k" } }
                1 .. $PER_CHAT;
            push @ids, map { $_->{id} } @m;
            push @convs, { jid => $jid, name => "Chat $k", messages => \@m };
        }
        my $since = $wa->last_seq;
        my $r = $wa->wa_history(type => 'recent', chunk_order => $chunk_order++, progress => 100,
                                conversations => \@convs);
        $wa->wait_match('history-receipt', id => $r->{id}, since => $since, timeout => 60);
    }
    return @ids;
}

# One import job: its figures from the fake's request log.
sub phase {
    my ($name, @ids) = @_;
    my $before = scalar @{ChatwootTest::FakeChatwoot->get_state($fake)->{requests}};
    my ($code, $j) = api(POST => '', { inbox => 'main', days => 7 });
    $code == 202 or die "$name: the import answered $code\n";
    my $job = $t->wait_for(sub { my $s = (api(GET => "/$j->{id}"))[1];
                                 $s->{state} =~ /^(completed|failed)$/ ? $s : undef },
                           3600, "$name: the import");
    my $state = ChatwootTest::FakeChatwoot->get_state($fake);
    my $by = ChatwootTest::FakeChatwoot->messages_by_waid($fake);
    my $once = grep { @{$by->{$_} // []} == 1 } @ids;
    $job->{state} eq 'completed' && $job->{messages_failed} == 0 && $once == @ids
        or die "$name: $once of " . scalar(@ids) . " messages once in the fake; job: " . encode_json($job) . "\n";
    my @reqs = grep { $_->{path} =~ m{^/api/} } @{$state->{requests}}[$before .. $#{$state->{requests}}];
    my @done = grep { !defined $_->{fault} } @reqs;
    my @posts = grep { ($_->{params}{source_id} // '') =~ /^WAID:/ } @done;
    my $span = $posts[-1]{time} - $reqs[0]{time};
    return { messages => scalar @posts, requests => scalar @done, throttled => @reqs - @done,
             seconds => $span, msg_s => @posts / $span, req_s => @done / $span };
}

my @first = history('U', 1, $CHATS);
my $u = phase('uncapped', @first);
ChatwootTest::FakeChatwoot->configure($fake, rate_limit => $CAP);
my @second = history('C', 1 + $CHATS, $CAPPED_CHATS);
my $c = phase('capped', @second);
my @bad = grep { /\[(?:error|alert|crit|emerg)\]/ || /Sanitizer|runtime error:/ }
    split /\n/, $t->read_file('error.log') . $t->read_file('stderr.log');
$wa->stop;
$t->stop;
$t->stop_daemons;
die "nginx logged errors:\n" . join("\n", @bad[0 .. ($#bad < 9 ? $#bad : 9)]) . "\n" if @bad;

printf "history import, REST path (%d chats x %d messages, concurrency %d, throttle_backoff %s)\n",
    $CHATS, $PER_CHAT, $CONCURRENCY, $BACKOFF;
printf "  uncapped: %d messages in %.2f s: %.0f msg/s (%d requests: %.0f req/s)\n",
    @$u{qw(messages seconds msg_s requests req_s)};
printf "  at %d req/s (429 beyond): %d messages in %.2f s: %.1f msg/s; %.1f req/s performed = %.1f%% of the cap "
    . "(target >= 95%%); %d answered 429\n",
    $CAP, @$c{qw(messages seconds msg_s req_s)}, 100 * $c->{req_s} / $CAP, $c->{throttled};
printf "  (go-whatsapp-web-multidevice: 20 msg/s fixed, one chat at a time)\n";

my $pg_bench = "$ROOT/build/core/pg_import_bench";
if (-x $pg_bench) {
    print "PostgreSQL path (t/bench/import_pg.pl, target >= 5,000 msg/s):\n";
    system($^X, "-I$ROOT/t/lib", "$ROOT/t/bench/import_pg.pl");
} else {
    print "PostgreSQL path: $pg_bench not built (cmake --build build/core --target pg_import_bench)\n";
}
