#!/usr/bin/perl
# Benchmark, not a test: WhatsApp messages through the bridge into the fake
# Chatwoot (t/lib/ChatwootTest/FakeChatwoot.pm), with 0 ms and with 50 ms
# of added latency on every Chatwoot answer.  100 chats; a warm-up message
# per chat makes the contacts and conversations first, so that the measured
# phase is one POST per message.  Then N messages go into the synthetic
# device at once and the clock runs until the status says they are all
# posted.  Prints messages/s, the helper's and the fake's CPU per message,
# and the ratio to a baseline measured in the same run: what the fake alone
# serves at the same concurrency and latency, driven by wrk (keep-alive,
# the same kind of POST spread over the same number of conversations).
# Each phase is checked before its figures count: every message in the fake
# exactly once and in order per chat, all posted in the store, no retries,
# no error in nginx's log.
#
# BENCH_CHATS (100), BENCH_PER_CHAT (50), BENCH_CONCURRENCY (the inbox's
# concurrency, 128), BENCH_LATENCIES (0,50 ms), BENCH_SECONDS (baseline, 5).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use ChatwootTest qw(free_port);
use ChatwootTest::FakeChatwoot;
use JSON::PP ();
use Mojo::UserAgent;
use POSIX ();
use Time::HiRes qw(sleep time);

my $CHATS = $ENV{BENCH_CHATS} // 100;
my $PER_CHAT = $ENV{BENCH_PER_CHAT} // 50;
my $CONCURRENCY = $ENV{BENCH_CONCURRENCY} // 128;
my @LATENCIES = split /,/, $ENV{BENCH_LATENCIES} // '0,50';
my $BASE_SECONDS = $ENV{BENCH_SECONDS} // 5;
my $WRK = $ENV{WRK} // 'wrk';
my $TOKEN = 'test-api-token';
my $A = '/api/v1/accounts/1';

my $JSON = JSON::PP->new->canonical->utf8;
# The fake's state is megabytes of JSON: decode it with XS when there is.
my $decode = eval { require Cpanel::JSON::XS; my $x = Cpanel::JSON::XS->new->utf8; sub { $x->decode($_[0]) } }
    // sub { Mojo::JSON::decode_json($_[0]) };

my $TCK = POSIX::sysconf(POSIX::_SC_CLK_TCK());

# CPU seconds a process has used (user + system), from /proc.
sub cpu_seconds {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or die "no process $pid: $!";
    my @f = split ' ', (<$fh> =~ s/^.*\) //r);
    return ($f[11] + $f[12]) / $TCK;
}

sub chat_jid { sprintf '55119%08d@s.whatsapp.net', $_[0] }

sub fake_state {
    my ($port) = @_;
    my $ua = Mojo::UserAgent->new(inactivity_timeout => 120, request_timeout => 120);
    my $res = $ua->get("http://127.0.0.1:$port/__fake/state")->result;
    die 'fake state: ' . $res->code unless $res->is_success;
    return $decode->($res->body);
}

# Lines at error or worse in nginx's logs: a benchmark of a failing bridge
# measures nothing.
sub check_log {
    my ($t, $phase) = @_;
    my @bad = grep { /\[(?:error|alert|crit|emerg)\]/ || /Sanitizer|runtime error:/ }
        split /\n/, $t->read_file('error.log') . $t->read_file('stderr.log');
    die "$phase: nginx logged errors:\n" . join("\n", @bad[0 .. ($#bad < 9 ? $#bad : 9)]) . "\n"
        if @bad;
}

###########################################################################
# The bridge: warm-up, then CHATS x PER_CHAT messages, timed.

sub run_bridge {
    my ($latency) = @_;
    my $phase = "bridge at $latency ms";
    my $t = ChatwootTest->new(workers => 1);
    my ($fake, $device) = $t->start_bridge(
        fake => { flood_limit => 1_000_000 },
        extra => "concurrency $CONCURRENCY;\n");
    my $fake_pid = $t->{daemons}[-1];    # start_bridge forked the fake last

    my $seq = 0;
    my $write = sub {
        my ($m, $staged) = @_;
        my $name = sprintf '%s/%08d.json', $device, ++$seq;
        open my $fh, '>', "$name.tmp" or die "$name.tmp: $!";
        print {$fh} $JSON->encode($m);
        close $fh;
        rename "$name.tmp", $name or die $! unless $staged;
        return $name;
    };

    # Warm-up: each chat gets its contact and conversation.
    $write->({ id => "C${_}M0", chat => chat_jid($_), push_name => "Contact $_",
               text => "hello from chat $_" }) for 1 .. $CHATS;
    $t->wait_for(sub { $t->status->{bridge}{whatsapp_posted} >= $CHATS }, 120, "$phase: warm-up");
    ChatwootTest::FakeChatwoot->configure($fake, latency_ms => $latency);

    # The measured messages, staged under names the device ignores; message
    # n of every chat comes before message n + 1 of any, in name order.
    my @staged;
    for my $n (1 .. $PER_CHAT) {
        for my $c (1 .. $CHATS) {
            push @staged, $write->({ id => "C${c}M$n", chat => chat_jid($c), push_name => "Contact $c",
                                     text => "message $n of chat $c, *some* formatting and a few words more" },
                                   'staged');
        }
    }
    my $total = @staged;
    my $s0 = $t->status;
    my $helper = $s0->{helper}{pid};
    my ($posted0, $requests0, $retries0) = @{$s0->{bridge}}{qw(whatsapp_posted api_requests api_retries)};
    my ($hcpu0, $fcpu0) = (cpu_seconds($helper), cpu_seconds($fake_pid));

    my $t0 = time;
    rename "$_.tmp", $_ or die "$_: $!" for @staged;
    my ($intake, $s1);
    while (1) {
        $s1 = $t->status;
        last if $s1->{bridge}{whatsapp_posted} - $posted0 >= $total;
        if (!defined $intake) {
            opendir my $dh, $device or die $!;
            $intake = time - $t0 unless grep { /\.json$/ } readdir $dh;
        }
        die "$phase: no progress within 600 s\n" if time - $t0 > 600;
        die "$phase: a message failed\n" if $s1->{bridge}{whatsapp_failed};
        sleep 0.05;
    }
    my $elapsed = time - $t0;
    my ($hcpu, $fcpu) = (cpu_seconds($helper) - $hcpu0, cpu_seconds($fake_pid) - $fcpu0);
    $intake //= $elapsed;

    # Correctness, before any figure is printed.
    die "$phase: the helper changed ($helper -> $s1->{helper}{pid})\n" if $s1->{helper}{pid} != $helper;
    my $rows = $t->sql(q{SELECT state, count(*) FROM wa_inbound GROUP BY state});
    my $want = $total + $CHATS;
    die "$phase: the store has " . $JSON->encode($rows) . ", not $want posted\n"
        unless @$rows == 1 && $rows->[0][0] eq 'posted' && $rows->[0][1] == $want;
    my $state = fake_state($fake);
    die "$phase: " . @{$state->{contacts}} . " contacts, " . @{$state->{conversations}}
        . " conversations for $CHATS chats\n"
        unless @{$state->{contacts}} == $CHATS && @{$state->{conversations}} == $CHATS;
    my %seen;
    for my $cv (@{$state->{conversations}}) {
        my @ids = map { $_->{source_id} // '' } @{$cv->{messages}};
        $seen{$_}++ for @ids;
        my ($chat) = $ids[0] =~ /^WAID:C(\d+)M0$/ or die "$phase: conversation $cv->{display_id} starts with $ids[0]\n";
        my $expect = join ',', map { "WAID:C${chat}M$_" } 0 .. $PER_CHAT;
        die "$phase: conversation $cv->{display_id} (chat $chat) has\n  " . join(',', @ids)
            . "\nnot\n  $expect\n" unless join(',', @ids) eq $expect;
    }
    my @dups = grep { $seen{$_} > 1 } sort keys %seen;
    die "$phase: twice in Chatwoot: @dups[0 .. ($#dups < 9 ? $#dups : 9)]\n" if @dups;
    die "$phase: " . keys(%seen) . " messages in the fake, not $want\n" unless keys %seen == $want;
    my @posts = grep { $_->{method} eq 'POST' && $_->{path} =~ m{/messages$} } @{$state->{requests}};
    # (GET / is the bridge's check that Chatwoot answers: 404 is fine.)
    my @bad = grep { ($_->{status} // 0) != 200 || $_->{fault} || $_->{client_gone} }
        grep { $_->{path} ne '/' } @{$state->{requests}};
    die "$phase: " . @bad . " request(s) not answered 200, e.g. " . $JSON->encode($bad[0]) . "\n" if @bad;
    my $requests = $s1->{bridge}{api_requests} - $requests0;
    my $retries = $s1->{bridge}{api_retries} - $retries0;
    die "$phase: $retries retries\n" if $retries;
    die "$phase: " . @posts . " message POSTs for $want messages\n" unless @posts == $want;
    # How many POSTs the fake had at once, at least: the most that arrived
    # within one latency window (the answers leave latency_ms later).
    my @at = sort { $a <=> $b } map { $_->{time} } grep { $_->{params}{source_id} !~ /M0$/ } @posts;
    my ($from, $in_flight) = (0, 0);
    for my $i ($latency > 0 ? 0 .. $#at : ()) {
        $from++ while $from < $i && $at[$from] <= $at[$i] - $latency / 1000;
        $in_flight = $i - $from + 1 if $i - $from + 1 > $in_flight;
    }
    check_log($t, $phase);
    $t->stop;
    $t->stop_daemons;
    return { latency => $latency, messages => $total, seconds => $elapsed, intake => $intake,
             rate => $total / $elapsed, helper_us => 1e6 * $hcpu / $total,
             fake_us => 1e6 * $fcpu / $total, requests => $requests, in_flight => $in_flight };
}

###########################################################################
# The baseline: the fake alone, CHATS conversations, wrk with CHATS
# connections posting the bridge's kind of message, round robin.

sub run_baseline {
    my ($latency, %o) = @_;
    my $t = ChatwootTest->new;
    my $port = free_port();
    my $fake = ChatwootTest::FakeChatwoot->new(account => 1, token => $TOKEN,
                                                inbox => { id => 7, name => 'WhatsApp' },
                                                flood_limit => 1_000_000);
    $t->run_daemon(sub { $fake->run($port) });
    $t->wait_port($port);
    my $fake_pid = $t->{daemons}[-1];
    my $ua = Mojo::UserAgent->new;
    my @convs;
    for my $c (1 .. $CHATS) {
        my $post = sub {
            my ($path, $body) = @_;
            my $res = $ua->post("http://127.0.0.1:$port$A/$path" => { api_access_token => $TOKEN }
                                => json => $body)->result;
            die "baseline set-up: POST $path: " . $res->code . ' ' . $res->body . "\n" unless $res->code == 200;
            return $res->json;
        };
        my $ct = $post->('contacts', { inbox_id => 7, name => "Contact $c", identifier => chat_jid($c) });
        my $cv = $post->('conversations', { inbox_id => 7, contact_id => $ct->{payload}{contact}{id},
                                            source_id => $ct->{payload}{contact_inbox}{source_id} });
        push @convs, $cv->{id};
    }
    ChatwootTest::FakeChatwoot->configure($port, latency_ms => $latency);
    my $close = $o{close} ? '    ["Connection"] = "close",' : '';
    my $lua = $t->write_file('post.lua', <<"EOF");
local convs = { @{[join ',', @convs]} }
local headers = {
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json",
    ["api_access_token"] = "$TOKEN",
$close
}
local n = 0
request = function()
    n = n + 1
    local body = '{"content":"message ' .. n .. ', *some* formatting and a few words more",'
        .. '"message_type":"incoming","private":false,"source_id":"WAID:B' .. n .. '"}'
    return wrk.format("POST", "$A/conversations/" .. convs[(n % #convs) + 1] .. "/messages",
                      headers, body)
end
done = function(summary, latency, requests)
    local e = summary.errors
    io.write(string.format('{"requests":%d,"us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50":%d,"p99":%d}\\n',
        summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
        latency:percentile(50), latency:percentile(99)))
end
EOF
    my $cpu0 = cpu_seconds($fake_pid);
    my @cmd = ($WRK, '-t1', "-c$CHATS", "-d${BASE_SECONDS}s", '--timeout', '10s', '-s', $lua,
               "http://127.0.0.1:$port");
    open my $pipe, '-|', @cmd or die "$WRK: $!";
    my $out = do { local $/; <$pipe> };
    close $pipe;
    die "wrk failed (exit @{[$? >> 8]}): $out" if $?;
    my $cpu = cpu_seconds($fake_pid) - $cpu0;
    my ($line) = $out =~ /^(\{"requests".*\})$/m or die "no summary from wrk:\n$out";
    my $r = JSON::PP::decode_json($line);
    my $errors = join ', ', map { "$_ $r->{$_}" } grep { $r->{$_} } qw(connect read write status timeout);
    # wrk counts a connection the server closed as a read error; with
    # Connection: close that is every request.
    $errors = join ', ', map { "$_ $r->{$_}" } grep { $r->{$_} } qw(connect write status timeout)
        if $o{close};
    die "baseline at $latency ms: errors ($errors)\n$out" if $errors;
    $t->stop_daemons;
    return { rate => $r->{requests} / ($r->{us} / 1e6), fake_us => 1e6 * $cpu / $r->{requests},
             p50 => $r->{p50} / 1000, p99 => $r->{p99} / 1000 };
}

###########################################################################

my (@rows);
for my $latency (@LATENCIES) {
    my $base = run_baseline($latency);
    my $fresh = run_baseline($latency, close => 1);
    my $b = run_bridge($latency);
    push @rows, [$b, $base, $fresh];
}

printf "%d chats, %d messages each after a warm-up one, inbox concurrency %d; baseline: wrk, %d connections, %d s;\n"
    . "2 cores shared by nginx's helper, the fake (one Perl process) and the client\n",
    $CHATS, $PER_CHAT, $CONCURRENCY, $CHATS, $BASE_SECONDS;
printf "%7s %8s %7s %8s %7s %9s %8s %11s %6s %12s\n",
    'latency', 'messages', 'seconds', 'msg/s', 'intake', 'helper', 'fake', 'fake alone', 'ratio', 'new conns';
printf "%7s %8s %7s %8s %7s %9s %8s %11s %6s %12s\n",
    '', '', '', '', 's', 'us/msg', 'us/msg', 'req/s', '', 'req/s';
for (@rows) {
    my ($b, $base, $fresh) = @$_;
    printf "%5d ms %8d %7.2f %8.0f %7.2f %9.1f %8.0f %11.0f %6.2f %12.0f\n",
        $b->{latency}, $b->{messages}, $b->{seconds}, $b->{rate}, $b->{intake}, $b->{helper_us},
        $b->{fake_us}, $base->{rate}, $b->{rate} / $base->{rate}, $fresh->{rate};
}
print "\n";
for (@rows) {
    my ($b, $base, $fresh) = @$_;
    printf "%d ms: fake alone %.0f us CPU/request (p50 %.1f ms, p99 %.1f ms); with a new connection per"
        . " request %.0f us (p50 %.1f ms); the bridge made %d requests%s\n",
        $b->{latency}, $base->{fake_us}, $base->{p50}, $base->{p99}, $fresh->{fake_us}, $fresh->{p50},
        $b->{requests},
        $b->{latency} ? sprintf(', at most %d of them arrived within one %d ms window;'
                                . ' one per chat in flight caps it at %.0f msg/s',
                                $b->{in_flight}, $b->{latency}, $CHATS * 1000 / $b->{latency}) : '';
}
print "intake: until the device directory was empty (the device takes 500 files per 200 ms poll)\n";
print "ratio: bridge msg/s / fake alone req/s (keep-alive); new conns: the fake alone with Connection: close\n";
