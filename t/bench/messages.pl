#!/usr/bin/perl
# Benchmark, not a test: WhatsApp messages end to end through nginx (issue
# 10), between the loopback WhatsApp server (t/mock/wa/server.mjs, whose
# contacts and phone are Signal parties of their own) and the fake Chatwoot
# (t/lib/ChatwootTest/FakeChatwoot.pm) answering at once (0 ms).  One paired
# live device, CHATS contacts (PN-addressed, one device each).
#
#   wa->cw    a warm-up message from each contact (its contact and
#             conversation are made), then CHATS x PER_CHAT messages from the
#             mock at once (POST burst: all encrypted first, then written to
#             the socket as fast as it takes them); msg/s from the first
#             send to the fake's receipt of the last POST.  The ceiling, in
#             the same run: the lower of the mock's own send rate (its send
#             phase alone) and the fake's (1 / its CPU per POST).
#   cw->wa    a warm-up reply per conversation (sessions with each contact's
#             LID and our phone), then CHATS x PER_CHAT signed message_created
#             webhooks (outgoing), one keep-alive connection per conversation
#             (t/bench/webhook_load.cpp --bodies-file), as fast as nginx
#             answers them; msg/s from the first webhook to the mock's
#             delivery of the last one (its decryption by the recipient's
#             device, just before the ack goes back).  The mock decrypts
#             every message twice (the contact's device and our phone's
#             device-sent copy): its CPU per message is printed, and the rate
#             it could reach on a whole core, as the ceiling.
#   latency   RATE msg/s for LATENCY_SECONDS each way.  wa->cw: from the
#             mock's write of a message to the fake's receipt of its POST
#             (both CLOCK_REALTIME ms on this machine), minus the baseline:
#             the same kind of POST from a paced client straight to the fake
#             (what the fake's own HTTP intake takes, which the bridge's POST
#             pays too).  cw->wa: from the test's write of the webhook to the
#             mock's decryption of it on the contact's device; the mock's own
#             decrypt (its CPU per message) is inside that figure.
#
# Every phase is checked before its figures count: each message in the fake
# exactly once and in order per conversation, every wa_inbound row posted, all
# POSTs answered 200 with no retry; each reply delivered to the contact's
# device and to our phone exactly once, in order per chat, every outbox entry
# sent, nothing refused or redelivered by the mock; no error in nginx's log.
#
# BENCH_CHATS (100), BENCH_PER_CHAT (20), BENCH_RATE (100 msg/s),
# BENCH_LATENCY_SECONDS (10, after one second at the rate not counted),
# BENCH_CONCURRENCY (the inbox's, 128), WEBHOOK_LOAD (build/core/webhook_load).
# TMPDIR=/dev/shm puts the store on tmpfs (the disk's fsyncs out).  To find
# out where time goes:
#   BENCH_PERF=<file>     perf record of the helper in each throughput phase
#                         (<file>.wa-cw, <file>.cw-wa); BENCH_PERF_CALLGRAPH
#                         (fp; dwarf for whole stacks through SQLite),
#                         BENCH_PERF_FREQ (999 Hz)
#   BENCH_STRACE=<file>   strace -c -f -w of the helper, the same phases
#                         (where its wall time goes, fdatasync included)
#   BENCH_DEBUG=1         every tenth paced message's times on stderr
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use ChatwootTest qw(free_port);
use ChatwootTest::FakeChatwoot;
use ChatwootTest::Payloads qw(message_created);
use Digest::SHA qw(hmac_sha256_hex);
use JSON::PP ();
use Mojo::UserAgent;
use POSIX ();
use Time::HiRes qw(sleep time);

my $CHATS = $ENV{BENCH_CHATS} // 100;
my $PER_CHAT = $ENV{BENCH_PER_CHAT} // 20;
my $RATE = $ENV{BENCH_RATE} // 100;
my $LAT_SECONDS = $ENV{BENCH_LATENCY_SECONDS} // 10;
my $CONCURRENCY = $ENV{BENCH_CONCURRENCY} // 128;
my $PERF = $ENV{BENCH_PERF};
my $STRACE = $ENV{BENCH_STRACE};
my $ROOT = "$FindBin::Bin/../..";
my $LOAD = $ENV{WEBHOOK_LOAD} // "$ROOT/build/core/webhook_load";
-x $LOAD or die "$LOAD is missing: cmake --build build/core --target webhook_load\n";
/^[1-9]\d*$/ or die "BENCH_* values are positive whole numbers\n" for $CHATS, $PER_CHAT, $RATE, $LAT_SECONDS;

my $JSON = JSON::PP->new->canonical->utf8;
my $decode = eval { require Cpanel::JSON::XS; my $x = Cpanel::JSON::XS->new->utf8; sub { $x->decode($_[0]) } }
    // sub { Mojo::JSON::decode_json($_[0]) };
my $TCK = POSIX::sysconf(POSIX::_SC_CLK_TCK());
my $ua = Mojo::UserAgent->new(inactivity_timeout => 300, request_timeout => 300, max_connections => 0);

# CPU seconds a process has used (user + system), from /proc.
sub cpu_seconds {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or die "no process $pid: $!";
    my @f = split ' ', (<$fh> =~ s/^.*\) //r);
    return ($f[11] + $f[12]) / $TCK;
}

sub percentile {
    my ($q, @v) = @_;
    return 0 unless @v;
    @v = sort { $a <=> $b } @v;
    return $v[int($q * $#v + 0.5)];
}

sub fake_state {
    my ($port) = @_;
    my $res = $ua->get("http://127.0.0.1:$port/__fake/state")->result;
    die 'fake state: ' . $res->code unless $res->is_success;
    return $decode->($res->body);
}

# The mock's control API; big answers (events) decoded with XS.
sub mock_post {
    my ($wa, $name, $body) = @_;
    my $res = $ua->post("http://127.0.0.1:" . $wa->port . "/control/$name" => json => $body)->result;
    die "mock $name: " . $res->code . ' ' . $res->body . "\n" unless $res->is_success;
    return $decode->($res->body);
}
sub mock_events {
    my ($wa, %q) = @_;
    my $res = $ua->get("http://127.0.0.1:" . $wa->port . '/control/events' => form => \%q)->result;
    die 'mock events: ' . $res->code . "\n" unless $res->is_success;
    return $decode->($res->body)->{events};
}

sub check_log {
    my ($t, $phase) = @_;
    my @bad = grep { /\[(?:error|alert|crit|emerg)\]/ || /Sanitizer|runtime error:/ }
        split /\n/, $t->read_file('error.log') . $t->read_file('stderr.log');
    die "$phase: nginx logged errors:\n" . join("\n", @bad[0 .. ($#bad < 9 ? $#bad : 9)]) . "\n" if @bad;
}

# perf record (BENCH_PERF) and strace -c (BENCH_STRACE) of the helper
# over a phase: started before it, stopped (SIGINT: they write their files)
# after it.
sub perf_start {
    my ($pid, $what) = @_;
    my @p;
    for ($PERF ? [$PERF, 'perf', 'record', '--call-graph', $ENV{BENCH_PERF_CALLGRAPH} // 'fp', '-F',
                  $ENV{BENCH_PERF_FREQ} // 999, '-p', $pid, '-o', "$PERF.$what"] : (),
         $STRACE ? [$STRACE, 'strace', '-c', '-f', '-w', '-p', $pid, '-o', "$STRACE.$what"] : ()) {
        my ($on, @cmd) = @$_;
        my $p = fork // die "fork: $!";
        if ($p == 0) {
            open STDOUT, '>', '/dev/null';
            open STDERR, '>', "$on.$what.log";
            { exec @cmd }
            POSIX::_exit(127);
        }
        push @p, $p;
    }
    sleep 0.5 if @p;   # attached before the phase starts
    return \@p;
}
sub perf_stop {
    my ($p) = @_;
    for (@$p) { kill 'INT', $_; waitpid $_, 0 }
}

###########################################################################
# Set-up: nginx with one live device, paired with the mock's phone; the
# fake Chatwoot at 0 ms; CHATS contacts.

my $t = ChatwootTest->new;
my ($port, $wa) = $t->start_wa(fake => { flood_limit => 1_000_000 },
                               inbox => { extra => "        concurrency $CONCURRENCY;\n" });
my $fake = $t->{wa_setup}{fake};
my $p = $t->pair_qr($wa, 'main');
$wa->wait(type => 'passive', conn => $p->{login}{conn}, timeout => 30);
(my $our_phone = $p->{sent}{lid}) =~ s/:\d+\@/\@/;   # our account's device 0, on its LID
my $fake_pid = $t->{daemons}[-1];   # start_wa forked the fake after the mock
my $mock_pid = $wa->pid;
$fake_pid != $mock_pid or die 'cannot tell the fake from the mock';

my @phones = map { sprintf '49152%08d', $_ } 1 .. $CHATS;
my %contact;   # phone -> the mock's contact (pn, lid)
$contact{$_} = $wa->wa_contact($_, name => "Contact $_") for @phones;
my $helper = $t->status->{helper}{pid};

sub posted { $t->status->{bridge}{whatsapp_posted} }
sub wait_posted {
    my ($n, $what) = @_;
    my $t0 = time;
    while (posted() < $n) {
        die "$what: only " . posted() . " of $n posted after 600 s\n" if time - $t0 > 600;
        die "$what: a message failed\n" if $t->status->{bridge}{whatsapp_failed};
        sleep 0.05;
    }
}

###########################################################################
# WhatsApp -> Chatwoot

my $run = 'R' . int(time) % 100000;   # message ids unique to this run
mock_post($wa, 'burst', { from => \@phones, count => $CHATS, text => 'hello', id_prefix => "${run}W" });
wait_posted($CHATS, 'wa->cw warm-up');

my $total = $CHATS * $PER_CHAT;
my %wa_cw;
{
    my $posted0 = posted();
    my ($h0, $f0, $m0) = map { cpu_seconds($_) } $helper, $fake_pid, $mock_pid;
    my $perf = perf_start($helper, 'wa-cw');
    my $burst = mock_post($wa, 'burst', { from => \@phones, count => $total, text => 'message', id_prefix => "${run}T" });
    wait_posted($posted0 + $total, 'wa->cw');
    perf_stop($perf);
    my ($h1, $f1, $m1) = map { cpu_seconds($_) } $helper, $fake_pid, $mock_pid;
    my $s = $t->status;
    die "wa->cw: the helper changed\n" if $s->{helper}{pid} != $helper;
    die "wa->cw: $s->{bridge}{api_retries} retries\n" if $s->{bridge}{api_retries};

    # Correctness first: the store, then the fake, conversation by conversation.
    my $rows = $t->sql(q{SELECT state, count(*) FROM wa_inbound GROUP BY state});
    my $want = $total + $CHATS;
    die "wa->cw: the store has " . $JSON->encode($rows) . ", not $want posted\n"
        unless @$rows == 1 && $rows->[0][0] eq 'posted' && $rows->[0][1] == $want;
    my $state = fake_state($fake);
    die "wa->cw: " . @{$state->{contacts}} . " contacts, " . @{$state->{conversations}} . " conversations for $CHATS chats\n"
        unless @{$state->{contacts}} == $CHATS && @{$state->{conversations}} == $CHATS;
    my %seen;
    for my $cv (@{$state->{conversations}}) {
        my @ids = map { $_->{source_id} // '' } @{$cv->{messages}};
        $seen{$_}++ for @ids;
        my ($k) = $ids[0] =~ /^WAID:\Q$run\EW(\d+)$/ or die "wa->cw: conversation $cv->{display_id} starts with $ids[0]\n";
        my $expect = join ',', "WAID:${run}W$k", map { "WAID:${run}T" . ($k + $CHATS * $_) } 0 .. $PER_CHAT - 1;
        die "wa->cw: conversation $cv->{display_id} (contact $k) has\n  @ids\nnot\n  $expect\n"
            unless join(',', @ids) eq $expect;
    }
    my @dups = grep { $seen{$_} > 1 } sort keys %seen;
    die "wa->cw: twice in Chatwoot: @dups[0 .. ($#dups < 9 ? $#dups : 9)]\n" if @dups;
    die "wa->cw: " . keys(%seen) . " messages in the fake, not $want\n" unless keys %seen == $want;
    my @bad = grep { ($_->{status} // 0) != 200 || $_->{fault} || $_->{client_gone} }
        grep { $_->{path} ne '/' } @{$state->{requests}};
    die "wa->cw: " . @bad . " request(s) not answered 200, e.g. " . $JSON->encode($bad[0]) . "\n" if @bad;
    my %at = map { ($_->{params}{source_id} // '') => $_->{time} }
        grep { $_->{method} eq 'POST' && $_->{path} =~ m{/messages$} } @{$state->{requests}};
    my $last = 0;
    for my $id (@{$burst->{ids}}) {
        my $x = $at{"WAID:$id"} // die "wa->cw: no POST of $id\n";
        $last = $x if $x > $last;
    }
    my $seconds = $last - $burst->{sent_at}[0] / 1000;
    check_log($t, 'wa->cw');
    %wa_cw = (messages => $total, seconds => $seconds, rate => $total / $seconds,
              encrypt_ms => $burst->{encrypt_ms}, send_ms => $burst->{send_ms},
              send_ceiling => $total / ($burst->{send_ms} / 1000),
              helper_us => 1e6 * ($h1 - $h0) / $total, fake_us => 1e6 * ($f1 - $f0) / $total,
              mock_us => 1e6 * ($m1 - $m0) / $total);
    # The fake's own ceiling: what it could take on a whole core at the CPU
    # each POST cost it here (it shares the two cores with everything else).
    $wa_cw{fake_ceiling} = $wa_cw{fake_us} > 0 ? 1e6 / $wa_cw{fake_us} : 9**9**9;
    $wa_cw{ceiling} = $wa_cw{send_ceiling} < $wa_cw{fake_ceiling} ? $wa_cw{send_ceiling} : $wa_cw{fake_ceiling};
}

###########################################################################
# Chatwoot -> WhatsApp

# Each conversation of the fake with its contact's phone number.
my @convs;
{
    my $state = fake_state($fake);
    my %by_id = map { $_->{id} => $_ } @{$state->{contacts}};
    for my $cv (@{$state->{conversations}}) {
        my ($first) = map { $_->{source_id} } @{$cv->{messages}};
        my ($k) = $first =~ /W(\d+)$/;
        push @convs, { display_id => $cv->{display_id}, phone => $phones[$k], k => $k };
    }
    @convs = sort { $a->{k} <=> $b->{k} } @convs;
}
my $next_message = 500000;   # Chatwoot message ids of the agents' replies

# A webhook body per line: reply n (1-based) of every conversation, then n + 1.
sub bodies_file {
    my ($name, $from, $to, $tag) = @_;
    my @lines;
    for my $n ($from .. $to) {
        for my $c (@convs) {
            push @lines, message_created(id => ++$next_message, conversation => $c->{display_id},
                                         phone => "+$c->{phone}", content => "$tag $n to chat $c->{k}");
        }
    }
    return $t->write_file($name, join("\n", @lines) . "\n");
}

sub run_load {
    my ($file, $what) = @_;
    my @cmd = ($LOAD, '--port', $port, '--connections', scalar @convs, '--seconds', 600,
               '--secret', $t->{secret}, '--bodies-file', $file);
    open my $pipe, '-|', @cmd or die "$LOAD: $!";
    my $out = do { local $/; <$pipe> };
    close $pipe;
    die "$what: webhook_load failed (exit @{[$? >> 8]}): $out" if $?;
    my $r = JSON::PP::decode_json($out);
    my ($other) = grep { $_ ne '202' } keys %{$r->{status}};
    die "$what: webhooks answered $other ($r->{status}{$other} times); " . $out if $other || $r->{errors};
    return $r;
}

sub sent_count { $t->sql(q{SELECT count(*) FROM outbox WHERE state = 'sent'})->[0][0] }
sub wait_sent {
    my ($n, $what) = @_;
    my $t0 = time;
    while ((my $s = sent_count()) < $n) {
        my $f = $t->sql(q{SELECT count(*) FROM outbox WHERE state = 'failed'})->[0][0];
        die "$what: $f outbox entries failed\n" if $f;
        die "$what: only $s of $n sent after 600 s\n" if time - $t0 > 600;
        sleep 0.1;
    }
}

# Every reply of `tag` n in from..to, delivered to the contact's device and
# to our phone exactly once, in order per chat: -> the latest delivery time
# (ms) and each reply's delivery time on the contact's device (by text).
sub check_deliveries {
    my ($what, $since, $tag, $from, $to) = @_;
    my $events = mock_events($wa, since => $since);
    my @refused = grep { $_->{type} eq 'refused' || $_->{type} eq 'redelivered' } @$events;
    die "$what: the mock $refused[0]{type} " . $JSON->encode($refused[0]) . "\n" if @refused;
    my %lid_of = map { (my $l = $contact{$_}{lid}) =~ s/\@lid$//; ($l => $_) } keys %contact;
    my (%got, %at, %once, $last);
    for my $e (grep { $_->{type} eq 'delivered' } @$events) {
        my $text = $e->{message}{conversation} // $e->{message}{extendedTextMessage}{text} // '';
        my ($n, $k) = $text =~ /\Q$tag\E (\d+) to chat (\d+)\z/ or next;
        die "$what: $e->{to} got $e->{id} twice\n" if $once{"$e->{to}|$e->{id}"}++;
        my $who = $e->{to} eq $our_phone ? 'phone' : 'contact';
        if ($who eq 'contact') {
            my ($user) = $e->{to} =~ /^(\d+)\@lid$/ or die "$what: a reply to $e->{to}, not a LID\n";
            my $phone = $lid_of{$user} // die "$what: a reply to $e->{to}, no contact's\n";
            die "$what: reply for chat $k went to $phone\n" if $phone ne $phones[$k];
            $at{"$n/$k"} = $e->{at};
        }
        push @{$got{"$who/$k"}}, $n;
        $last = $e->{at} if !defined $last || $e->{at} > $last;
    }
    my $expect = join ',', $from .. $to;
    for my $c (@convs) {
        for my $who (qw(contact phone)) {
            my $seq = join ',', @{$got{"$who/$c->{k}"} // []};
            die "$what: chat $c->{k}'s $who device got\n  $seq\nnot\n  $expect\n" unless $seq eq $expect;
        }
    }
    return ($last, \%at);
}

my %cw_wa;
{
    # Warm-up: one reply per conversation (usync, bundles, sessions).
    my $since = $wa->last_seq;
    my $sent0 = sent_count();
    run_load(bodies_file('warm.jsonl', 1, 1, 'warm-up'), 'cw->wa warm-up');
    wait_sent($sent0 + @convs, 'cw->wa warm-up');
    check_deliveries('cw->wa warm-up', $since, 'warm-up', 1, 1);

    my $file = bodies_file('replies.jsonl', 1, $PER_CHAT, 'reply');
    $since = $wa->last_seq;
    $sent0 = sent_count();
    my ($h0, $m0) = map { cpu_seconds($_) } $helper, $mock_pid;
    my $perf = perf_start($helper, 'cw-wa');
    my $t0 = time;
    my $load = run_load($file, 'cw->wa');
    wait_sent($sent0 + $total, 'cw->wa');
    perf_stop($perf);
    my ($h1, $m1) = map { cpu_seconds($_) } $helper, $mock_pid;
    my ($last) = check_deliveries('cw->wa', $since, 'reply', 1, $PER_CHAT);
    die "cw->wa: the helper changed\n" if $t->status->{helper}{pid} != $helper;
    check_log($t, 'cw->wa');
    my $seconds = $last / 1000 - $t0;
    my $mock_us = 1e6 * ($m1 - $m0) / $total;
    %cw_wa = (messages => $total, seconds => $seconds, rate => $total / $seconds, intake => $load->{rps},
              helper_us => 1e6 * ($h1 - $h0) / $total, mock_us => $mock_us, ceiling => 1e6 / $mock_us);
}

###########################################################################
# Latency at RATE msg/s, each way.

my $count = $RATE * $LAT_SECONDS;
# The first second at the rate is not counted: the helper may still be
# finishing the phase before (read receipts, settlements), and the mock its
# bookkeeping.
my $warm = $RATE;
my $interval = 1000 / $RATE;
my %lat;
{
    # wa->cw: paced messages from the mock.
    my $since = $wa->last_seq;
    my $posted0 = posted();
    my $burst = mock_post($wa, 'burst', { from => \@phones, count => $warm + $count, text => 'paced', id_prefix => "${run}L",
                                      interval_ms => $interval });
    wait_posted($posted0 + $warm + $count, 'latency wa->cw');
    my $state = fake_state($fake);
    my %at = map { ($_->{params}{source_id} // '') => $_->{time} }
        grep { $_->{method} eq 'POST' && $_->{path} =~ m{/messages$} } @{$state->{requests}};
    # The delivery receipt (sent after the commit) splits the path in two:
    # the mock's write -> receipt (read, keep, decrypt, commit) and receipt
    # -> POST (the bridge and curl).
    my %receipt;
    for my $e (@{mock_events($wa, since => $since, type => 'receipt-in')}) {
        $receipt{$_} //= $e->{at} for @{$e->{ids} // [$e->{id}]};
    }
    my (@raw, @recv, @fwd);
    for my $i (0 .. $#{$burst->{ids}}) {
        my $id = $burst->{ids}[$i];
        my $x = $at{"WAID:$id"} // die "latency wa->cw: no POST of $id\n";
        my $r = $receipt{$id} // die "latency wa->cw: no receipt for $id\n";
        printf STDERR "wa->cw %d: sent +%d ms, receipt %+d, POST %+d\n", $i, $burst->{sent_at}[$i] - $burst->{sent_at}[0],
            $r - $burst->{sent_at}[$i], 1000 * $x - $r if $ENV{BENCH_DEBUG} && $i % 10 == 0;
        next if $i < $warm;
        push @raw, 1000 * $x - $burst->{sent_at}[$i];
        push @recv, $r - $burst->{sent_at}[$i];
        push @fwd, 1000 * $x - $r;
    }

    # The baseline: the same POSTs, paced, from this process to the fake.
    my $api = "http://127.0.0.1:$fake/api/v1/accounts/1";
    my %auth = (api_access_token => 'test-api-token');
    my $base_ua = Mojo::UserAgent->new;
    my @base;
    my $start = time;
    for my $i (1 .. $count) {
        my $c = $convs[$i % @convs];
        my $wait = $start + ($i - 1) * $interval / 1000 - time;
        sleep $wait if $wait > 0;
        my $sent = time;
        my $res = $base_ua->post("$api/conversations/$c->{display_id}/messages", \%auth => json => {
            content => "baseline $i", message_type => 'incoming', private => JSON::PP::false,
            source_id => "WAID:${run}B$i" })->result;
        die "baseline: " . $res->code . "\n" unless $res->code == 200;
        push @base, $sent;
    }
    $state = fake_state($fake);
    my %bat = map { ($_->{params}{source_id} // '') => $_->{time} }
        grep { $_->{method} eq 'POST' && ($_->{params}{source_id} // '') =~ /^WAID:\Q$run\EB/ } @{$state->{requests}};
    my @b = map { 1000 * ($bat{"WAID:${run}B$_"} // die "baseline: no POST $_\n") - 1000 * $base[$_ - 1] } 1 .. $count;
    $lat{wa_cw} = { p50 => percentile(0.5, @raw), p99 => percentile(0.99, @raw),
                    base50 => percentile(0.5, @b), base99 => percentile(0.99, @b),
                    recv50 => percentile(0.5, @recv), recv99 => percentile(0.99, @recv),
                    fwd50 => percentile(0.5, @fwd), fwd99 => percentile(0.99, @fwd) };
    check_log($t, 'latency wa->cw');

    # cw->wa: paced webhooks on one keep-alive connection.
    $since = $wa->last_seq;
    my $sent0 = sent_count();
    my $conn = ChatwootTest::Conn->new($port);
    my %sent;
    $start = time;
    for my $i (1 .. $warm + $count) {
        my $c = $convs[$i % @convs];
        my $body = message_created(id => ++$next_message, conversation => $c->{display_id},
                                   phone => "+$c->{phone}", content => "paced $i to chat $c->{k}");
        my $ts = int(time);
        my %h = ('Content-Type' => 'application/json', 'X-Chatwoot-Timestamp' => $ts,
                 'X-Chatwoot-Signature' => 'sha256=' . hmac_sha256_hex("$ts.$body", $t->{secret}),
                 'X-Chatwoot-Delivery' => sprintf('%08x-0000-4000-8000-%012x', $$, $i));
        my $wait = $start + ($i - 1) * $interval / 1000 - time;
        sleep $wait if $wait > 0;
        $sent{"$i/$c->{k}"} = time;
        my ($code) = $conn->request('POST', '/chatwoot/webhook', body => $body, headers => \%h);
        die "latency cw->wa: webhook answered $code\n" unless $code == 202;
    }
    wait_sent($sent0 + $warm + $count, 'latency cw->wa');
    # Each chat got replies i = k, k + CHATS, ...: checked in order below.
    my $events = mock_events($wa, since => $since);
    my @refused = grep { $_->{type} eq 'refused' || $_->{type} eq 'redelivered' } @$events;
    die "latency cw->wa: the mock $refused[0]{type} " . $JSON->encode($refused[0]) . "\n" if @refused;
    # The mock's read of the <message> stanza splits the path: the webhook's
    # write -> the stanza at the mock (nginx, the ring, the outbox, encrypt)
    # and the stanza -> decrypted (the mock's own work).
    my %arrived;
    for my $e (grep { $_->{type} eq 'received' && $_->{tag} eq 'message' } @$events) {
        $arrived{$e->{node}{attrs}{id} // ''} //= $e->{at};
    }
    my (%at_of, %in_of, %n);
    for my $e (grep { $_->{type} eq 'delivered' && $_->{to} ne $our_phone } @$events) {
        my $text = $e->{message}{conversation} // $e->{message}{extendedTextMessage}{text} // '';
        my ($i, $k) = $text =~ /paced (\d+) to chat (\d+)\z/ or next;
        die "latency cw->wa: reply $i delivered twice\n" if $at_of{"$i/$k"};
        die "latency cw->wa: chat $k got reply $i after a later one\n" if ($n{$k} // 0) > $i;
        $n{$k} = $i;
        $at_of{"$i/$k"} = $e->{at};
        $in_of{"$i/$k"} = $arrived{$e->{id}} // die "latency cw->wa: no stanza seen for $e->{id}\n";
    }
    my (@cw, @out, @dec);
    for (sort { (split m{/}, $a)[0] <=> (split m{/}, $b)[0] } keys %sent) {
        my $at = $at_of{$_} // die "latency cw->wa: reply $_ never delivered\n";
        printf STDERR "cw->wa %s: to the mock %.1f ms, decrypted %.1f ms later\n", $_, $in_of{$_} - 1000 * $sent{$_},
            $at - $in_of{$_} if $ENV{BENCH_DEBUG} && (split m{/})[0] % 10 == 0;
        next if (split m{/})[0] <= $warm;
        push @cw, $at - 1000 * $sent{$_};
        push @out, $in_of{$_} - 1000 * $sent{$_};
        push @dec, $at - $in_of{$_};
    }
    $lat{cw_wa} = { p50 => percentile(0.5, @cw), p99 => percentile(0.99, @cw),
                    out50 => percentile(0.5, @out), out99 => percentile(0.99, @out),
                    dec50 => percentile(0.5, @dec), dec99 => percentile(0.99, @dec) };
    check_log($t, 'latency cw->wa');
}

$wa->stop;
$t->stop;
$t->stop_daemons;

###########################################################################

printf "%d chats (one contact device each), %d messages each way after a warm-up one per chat; fake Chatwoot at 0 ms;\n"
    . "2 cores shared by nginx's helper, the mock (one Node process), the fake (one Perl process) and the clients\n\n",
    $CHATS, $total;
printf "%-9s %8s %7s %8s %9s %9s %8s %9s %9s %9s\n", 'direction', 'messages', 'seconds', 'msg/s', 'intake', 'ceiling',
    'of it', 'helper', 'mock', 'fake';
printf "%-9s %8s %7s %8s %9s %9s %8s %9s %9s %9s\n", '', '', '', '', 'msg/s', 'msg/s', '', 'us/msg', 'us/msg', 'us/msg';
printf "%-9s %8d %7.2f %8.0f %9s %9.0f %7.0f%% %9.1f %9.1f %9.1f\n", 'wa->cw', @wa_cw{qw(messages seconds rate)}, '-',
    $wa_cw{ceiling}, 100 * $wa_cw{rate} / $wa_cw{ceiling}, @wa_cw{qw(helper_us mock_us fake_us)};
printf "%-9s %8d %7.2f %8.0f %9.0f %9.0f %7.0f%% %9.1f %9.1f %9s\n", 'cw->wa', @cw_wa{qw(messages seconds rate intake ceiling)},
    100 * $cw_wa{rate} / $cw_wa{ceiling}, @cw_wa{qw(helper_us mock_us)}, '-';
print "\n";
printf "latency at %d msg/s, %d messages each way after %d not counted (ms):\n", $RATE, $count, $warm;
printf "%-9s %8s %8s %10s %10s %10s %10s\n", 'direction', 'median', 'p99', 'base med', 'base p99', 'added med', 'added p99';
printf "%-9s %8.2f %8.2f %10.2f %10.2f %10.2f %10.2f\n", 'wa->cw', @{$lat{wa_cw}}{qw(p50 p99 base50 base99)},
    $lat{wa_cw}{p50} - $lat{wa_cw}{base50}, $lat{wa_cw}{p99} - $lat{wa_cw}{base99};
printf "%-9s %8.2f %8.2f %10s %10s %10.2f %10.2f\n", 'cw->wa', @{$lat{cw_wa}}{qw(p50 p99)}, '-', '-',
    @{$lat{cw_wa}}{qw(p50 p99)};
printf "  wa->cw split at the delivery receipt: write -> receipt (read, keep, decrypt, commit) median %.2f p99 %.2f;\n"
    . "  receipt -> POST at the fake (bridge, curl) median %.2f p99 %.2f\n", @{$lat{wa_cw}}{qw(recv50 recv99 fwd50 fwd99)};
printf "  cw->wa split at the mock's read of the stanza: webhook -> stanza (nginx, ring, outbox, encrypt, send)\n"
    . "  median %.2f p99 %.2f; stanza -> decrypted by the mock median %.2f p99 %.2f\n",
    @{$lat{cw_wa}}{qw(out50 out99 dec50 dec99)};
print "\n";
printf "wa->cw: from the mock's first write to the fake's receipt of the last POST; ceiling: the lower of the mock's send\n"
    . "  phase alone (%d messages in %.0f ms, after %.0f ms encrypting them: %.0f msg/s) and 1 / the fake's CPU per POST\n"
    . "  (%.0f msg/s on a whole core); the helper decrypts, commits, receipts and POSTs each\n",
    $total, $wa_cw{send_ms}, $wa_cw{encrypt_ms}, $wa_cw{send_ceiling}, $wa_cw{fake_ceiling};
print "cw->wa: from the first webhook to the mock's decryption of the last reply on the contact's device; intake: the\n"
    . "  webhooks' own rate (202s/s); ceiling: 1 / the mock's CPU per reply (it decrypts each twice: the contact's\n"
    . "  device and our phone's device-sent copy, and acks it)\n";
print "added latency wa->cw: the mock's write -> the helper's read, decrypt, commit (ratchet + wa_inbound row), receipt,\n"
    . "  the bridge's mapping, curl's POST -> the fake's receipt; minus the baseline (a client's paced POST straight to\n"
    . "  the fake: its HTTP intake, paid by both).  cw->wa: the webhook's write -> 202 -> ring -> outbox commit -> Signal\n"
    . "  encrypt for 2 devices -> the mock's read and decrypt (the mock's own decrypt included: ~"
    . sprintf('%.1f', $cw_wa{mock_us} / 1000) . " ms of CPU per reply)\n";
printf "targets: >= 2000 msg/s each way (or the ceiling), p99 added < 10 ms at %d msg/s\n", $RATE;
printf "the helper's CPU per message would carry %.0f msg/s (wa->cw) and %.0f msg/s (cw->wa) on one core of its own\n",
    1e6 / $wa_cw{helper_us}, 1e6 / $cw_wa{helper_us};
