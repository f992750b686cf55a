#!/usr/bin/perl
# Benchmark, not a test: N live WhatsApp sessions in one helper against the
# loopback WhatsApp server (t/mock/wa/server.mjs).  For each N (1, 10, 100 by
# default):
#
#   pair     N chatwoot_inbox blocks, each a device on the mock; every
#            device's QR text from the devices API is scanned by the mock's
#            phone (a distinct number per device); all N log in
#   baseline the same nginx, same state directory, every inbox `whatsapp
#            off`: the helper's RSS and CPU without sessions
#   restart  stop, then start with the devices on: the time from the start
#            until the mock has sent N <success> (logged in) and received N
#            `passive active` (the device is fully up); the devices API and
#            the log must agree that all N are connected
#   idle     the helper's RSS (VmRSS, from /proc) minus the baseline's, per
#            session, and its CPU (utime + stime) over an idle window,
#            per session per minute and as a share of one core
#
# Prints a table and the targets: <= 1 MB RSS per session, 100 sessions
# connected in < 5 s, idle CPU below 0.1% of a core for 100 sessions.  The
# mock is one Node process on the same cores: its CPU during each phase is
# printed too, since a saturated mock slows the connect phase without being
# ours.  A run where a device fails to pair, reconnects, logs in twice or
# logs an error dies instead of printing.
#
#   perl t/bench/sessions.pl [--idle SECONDS] [N ...]
#
# BENCH_SESSIONS (1,10,100) and BENCH_IDLE (60 s) do the same from the
# environment; BENCH_SETTLE (3 s) is how long the helper runs before its
# RSS and CPU are read.  To find out where time goes:
#   BENCH_TRACE=1          each connection's milestones after the restart
#   BENCH_PERF=<file>      perf record: the connect phase system-wide
#                          (<file>.connect-N), the idle windows of the helper
#                          (<file>.baseline-N, <file>.idle-N); BENCH_PERF_FREQ
#                          (999 Hz), BENCH_PERF_EVENTS (more events, e.g.
#                          syscalls:sys_enter_fdatasync), BENCH_PERF_CALLGRAPH
#   BENCH_STRACE=<file>    strace -c of the helper over the idle windows
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use ChatwootTest qw(free_port);
use ChatwootTest::FakeChatwoot;
use Getopt::Long qw(GetOptions);
use JSON::PP ();
use Mojo::UserAgent;
use POSIX ();
use Time::HiRes qw(sleep time);

my $IDLE = $ENV{BENCH_IDLE} // 60;
my $SETTLE = $ENV{BENCH_SETTLE} // 3;
GetOptions('idle=f' => \$IDLE, 'settle=f' => \$SETTLE)
    or die "usage: $0 [--idle SECONDS] [--settle SECONDS] [N ...]\n";
my @SESSIONS = @ARGV ? @ARGV : split /,/, $ENV{BENCH_SESSIONS} // '1,10,100';
/^[1-9]\d*$/ or die "not a number of sessions: $_\n" for @SESSIONS;

my $ROOT = "$FindBin::Bin/../..";
my $MOCK = "$ROOT/t/mock/wa/server.mjs";
my $TCK = POSIX::sysconf(POSIX::_SC_CLK_TCK());
my $JSON = JSON::PP->new->canonical->utf8;
# No kept-alive connections: the mock (Node) closes idle ones after 5 s,
# and a request on one it just closed fails with "Premature connection close".
my $ua = Mojo::UserAgent->new(inactivity_timeout => 120, request_timeout => 120, max_connections => 0);

# CPU seconds a process has used (user + system), from /proc: schedstat's
# nanoseconds on a CPU where the kernel keeps them (an idle helper uses a
# few ticks a minute, below stat's 10 ms resolution), else stat's ticks.
sub cpu_seconds {
    my ($pid) = @_;
    if (open my $fh, '<', "/proc/$pid/schedstat") {
        my ($ns) = split ' ', scalar <$fh> // '';
        return $ns / 1e9 if defined $ns && $ns =~ /^\d+$/;
    }
    open my $fh, '<', "/proc/$pid/stat" or die "no process $pid: $!";
    my @f = split ' ', (<$fh> =~ s/^.*\) //r);
    return ($f[11] + $f[12]) / $TCK;
}

# A /proc/<pid>/status field in kB (VmRSS, RssAnon, VmHWM...).
sub status_kb {
    my ($pid, $field) = @_;
    open my $fh, '<', "/proc/$pid/status" or die "no process $pid: $!";
    while (<$fh>) {
        return $1 if /^\Q$field\E:\s+(\d+) kB/;
    }
    die "no $field for $pid\n";
}

sub device_name { sprintf 'd%03d', $_[0] }
sub phone { sprintf '5511977%06d', $_[0] }

###########################################################################
# The mock: one per N, its events are how we count logins.

sub start_mock {
    my ($t) = @_;
    my $port = free_port();
    pipe my $out, my $w or die "pipe: $!";
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        # Its log goes to the test directory, not our terminal.
        open STDOUT, '>&', $w or die $!;
        open STDERR, '>', $t->dir . '/mock.log' or die $!;
        exec 'node', $MOCK, '--port', $port or die "node $MOCK: $!";
    }
    close $w;
    my $line = <$out> // die "the mock exited before it was ready\n";
    my ($ready) = $line =~ /^ready (\{.*\})$/ or die "the mock said: $line";
    my $mock = $JSON->decode($ready);
    push @{$t->{daemons}}, $pid;   # stop_daemons TERMs and reaps it
    $mock->{pid} = $pid;
    $mock->{pipe} = $out;
    $mock->{base} = "http://127.0.0.1:$port/control";
    return $mock;
}

sub mock_get {
    my ($mock, $path, %q) = @_;
    my $res = $ua->get("$mock->{base}/$path" => form => \%q)->result;
    die "mock GET $path: " . $res->code . ' ' . $res->body unless $res->is_success;
    return $res->json;
}

sub mock_post {
    my ($mock, $path, $body) = @_;
    my $res = $ua->post("$mock->{base}/$path" => json => $body)->result;
    die "mock POST $path: " . $res->code . ' ' . $res->body unless $res->is_success;
    return $res->json;
}

sub mock_events {
    my ($mock, %q) = @_;
    return mock_get($mock, 'events', %q)->{events};
}

# The last event's sequence number: later queries ask for what follows.
sub mock_seq {
    my ($mock) = @_;
    my $ev = mock_events($mock);
    return @$ev ? $ev->[-1]{seq} : 0;
}

###########################################################################
# nginx with N devices on the mock (or the same inboxes without them).

sub config {
    my ($t, %o) = @_;
    my $inboxes = '';
    for my $i (1 .. $o{n}) {
        my $device = $o{whatsapp}
            ? "whatsapp_server $o{mock}{url} root_key=$o{mock}{root_key};"
            : 'whatsapp off;';
        $inboxes .= sprintf "    chatwoot_inbox %s {\n"
            . "        url http://127.0.0.1:%d/; account 1; inbox 7;\n"
            . "        api_token test-api-token; webhook_secret test-webhook-secret;\n"
            . "        %s\n    }\n", device_name($i), $o{fake}, $device;
    }
    my $state = $t->{state} = $t->dir . '/state';
    $t->{status_port} = $o{port};
    $t->write_config(<<"EOF", workers => 1);
    chatwoot_state_path $state;
$inboxes
    server {
        listen 127.0.0.1:$o{port};
        location = /chatwoot/status { chatwoot_status; }
        location /chatwoot/devices/ { chatwoot_devices; }
    }
EOF
}

sub devices {
    my ($t, $port) = @_;
    my ($code, undef, $body) = $t->http($port, 'GET', '/chatwoot/devices/');
    die "devices list answered $code\n" unless $code == 200;
    return { map { $_->{name} => $_ } @{JSON::PP::decode_json($body)->{devices}} };
}

# Lines at error or worse in nginx's logs: a benchmark of failing sessions
# measures nothing.
sub check_log {
    my ($t, $phase) = @_;
    my @bad = grep { /\[(?:error|alert|crit|emerg)\]/ || /Sanitizer|runtime error:/ }
        split /\n/, $t->read_file('error.log') . $t->read_file('stderr.log');
    die "$phase: nginx logged errors:\n" . join("\n", @bad[0 .. ($#bad < 9 ? $#bad : 9)]) . "\n"
        if @bad;
}

# Waits until the mock has $n events of $type (and tag) after $since:
# returns them.
sub wait_events {
    my ($t, $mock, $n, $timeout, $what, %q) = @_;
    my $events;
    $t->wait_for(sub {
        $events = mock_events($mock, %q);
        @$events >= $n;
    }, $timeout, $what);
    return $events;
}

###########################################################################

sub pair_all {
    my ($t, $mock, $port, $n) = @_;
    my $since = mock_seq($mock);
    $t->run;
    $t->wait_helper_running(30);
    # Each device's QR as soon as it has one; scanned right away.
    my %left = map { device_name($_) => $_ } 1 .. $n;
    my $deadline = time + 120;
    while (%left) {
        die "pairing: no QR for " . join(', ', sort keys %left) . " within 120 s\n" if time > $deadline;
        for my $name (sort keys %left) {
            my ($code, undef, $qr) = $t->http($port, 'GET', "/chatwoot/devices/$name/qr?format=text");
            next if $code == 503;    # no ref yet
            die "pairing: $name/qr answered $code: $qr\n" unless $code == 200;
            mock_post($mock, 'scan', { qr => $qr, phone => phone($left{$name}) });
            delete $left{$name};
        }
        sleep 0.05 if %left;
    }
    my $paired = wait_events($t, $mock, $n, 120, "$n devices paired", type => 'paired', since => $since);
    my %phones = map { $_->{jid} =~ /^(\d+)/ ? ($1 => 1) : () } @$paired;
    die "pairing: " . keys(%phones) . " distinct phones paired, not $n\n" unless keys %phones == $n;
    wait_events($t, $mock, $n, 120, "$n devices active after pairing", type => 'passive', since => $since);
    check_log($t, 'pairing');
    $t->stop;
}

# A profile of one process for a while (BENCH_PERF names the file).
sub perf_start {
    my ($t, @what) = @_;
    my $file = $ENV{BENCH_PERF} or return;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDERR, '>>', $t->dir . '/perf.log';
        my @events = map { ('-e', $_) } split /,/, $ENV{BENCH_PERF_EVENTS} // '';
        exec 'perf', 'record', '--call-graph', $ENV{BENCH_PERF_CALLGRAPH} // 'fp',
            '-F', $ENV{BENCH_PERF_FREQ} // 999, @events, @what or die "perf: $!";
    }
    sleep 0.5;    # perf is ready
    return $pid;
}

sub perf_stop {
    my ($pid) = @_;
    return unless $pid;
    kill 'INT', $pid;
    waitpid $pid, 0;
}

sub idle_figures {
    my ($t, $mock, $pid, $label) = @_;
    sleep $SETTLE;
    my $rss = status_kb($pid, 'VmRSS');
    my $perf = perf_start($t, '-p', $pid, '-o', ($ENV{BENCH_PERF} // '') . ".$label");
    # BENCH_STRACE=<file>: the system calls of the idle window, counted.
    my $strace;
    if (my $file = $ENV{BENCH_STRACE}) {
        $strace = fork // die "fork: $!";
        if ($strace == 0) {
            open STDERR, '>>', $t->dir . '/strace.log';
            exec 'strace', '-c', '-p', $pid, '-o', "$file.$label" or die "strace: $!";
        }
        sleep 0.5;
    }
    my $seq0 = mock_seq($mock);
    my ($cpu0, $mcpu0, $t0) = (cpu_seconds($pid), cpu_seconds($mock->{pid}), time);
    sleep $IDLE;
    my ($cpu1, $mcpu1, $t1) = (cpu_seconds($pid), cpu_seconds($mock->{pid}), time);
    # What the sessions did meanwhile: keepalive pings, and anything else.
    my $received = mock_events($mock, type => 'received', since => $seq0);
    my $pings = grep { ($_->{node}{attrs}{xmlns} // '') eq 'w:p' } @$received;
    perf_stop($perf);
    perf_stop($strace);
    return { rss => $rss, rss_after => status_kb($pid, 'VmRSS'), hwm => status_kb($pid, 'VmHWM'),
             anon => status_kb($pid, 'RssAnon'), cpu => $cpu1 - $cpu0, mock_cpu => $mcpu1 - $mcpu0,
             window => $t1 - $t0, pings => $pings, stanzas => scalar @$received };
}

sub run_sessions {
    my ($n) = @_;
    my $t = ChatwootTest->new(workers => 1);
    my $mock = start_mock($t);
    my $fake = ChatwootTest::FakeChatwoot->spawn($t, account => 1, token => 'test-api-token',
                                                 inbox => { id => 7, name => 'WhatsApp' });
    my $port = free_port();

    config($t, n => $n, mock => $mock, fake => $fake, port => $port, whatsapp => 1);
    pair_all($t, $mock, $port, $n);

    # The baseline: the same inboxes, no device, the same store.
    config($t, n => $n, mock => $mock, fake => $fake, port => $port, whatsapp => 0);
    $t->new_log;
    $t->run;
    my $base_pid = $t->wait_helper_running(30)->{helper}{pid};
    my $base = idle_figures($t, $mock, $base_pid, "baseline-$n");
    check_log($t, 'baseline');
    $t->stop;

    # The restart with the devices on, timed from the start of nginx.
    config($t, n => $n, mock => $mock, fake => $fake, port => $port, whatsapp => 1);
    my $since = mock_seq($mock);
    my $log_from = length $t->read_file('error.log');
    my $mcpu0 = cpu_seconds($mock->{pid});
    # BENCH_PERF=<file>: a system-wide profile of the connect phase (the
    # helper does not exist before it, so no -p).
    my $perf = perf_start($t, '-a', '-o', ($ENV{BENCH_PERF} // '') . ".connect-$n");
    my $load = do { open my $fh, '<', '/proc/loadavg' or die $!; (split ' ', <$fh>)[0] };
    my $t0 = time;
    $t->run;
    my $active = wait_events($t, $mock, $n, 120, "$n devices active after the restart",
                             type => 'passive', since => $since);
    perf_stop($perf);
    my $mcpu_connect = cpu_seconds($mock->{pid}) - $mcpu0;
    my $success = mock_events($mock, type => 'sent', tag => 'success', since => $since);
    my $last = sub { my $m = 0; $_->{at} > $m and $m = $_->{at} for @_; $m / 1000 - $t0 };
    my $first_conn = (mock_events($mock, type => 'connected', since => $since)->[0]{at}) / 1000 - $t0;
    my $s = $t->status;
    my $pid = $s->{helper}{pid};
    # The helper's CPU from its start until all are active: what the
    # connect phase costs us, whatever else the cores were doing.
    my $connect = { logged_in => $last->(@$success), active => $last->(@$active), first => $first_conn,
                    mock_cpu => $mcpu_connect, helper_cpu => cpu_seconds($pid), load => $load };

    if ($ENV{BENCH_TRACE}) {
        # Where the connect phase's time goes: each connection's milestones.
        my %conn;
        for my $e (@{mock_events($mock, since => $since)}) {
            my $what = $e->{type} eq 'sent' || $e->{type} eq 'received' ? "$e->{type}:$e->{tag}" : $e->{type};
            push @{$conn{$e->{conn} // '-'}}, sprintf '%s %.3f', $what, $e->{at} / 1000 - $t0;
        }
        print STDERR "conn $_: @{$conn{$_}}\n" for sort { $a <=> $b } grep { /\d/ } keys %conn;
    }
    my $idle = idle_figures($t, $mock, $pid, "idle-$n");

    # Correctness, before any figure counts: N logins, one each, all
    # connected, nobody reconnected, the helper did not change.
    my $end = mock_seq($mock);
    my $logins = mock_events($mock, type => 'handshake', since => $since);
    my %by_device;
    for (@$logins) {
        die "restart: a registration instead of a login\n" unless $_->{client}{kind} eq 'login';
        $by_device{"$_->{client}{username}:$_->{client}{device}"}++;
    }
    my @twice = grep { $by_device{$_} > 1 } sort keys %by_device;
    die "restart: " . keys(%by_device) . " devices logged in, not $n\n" unless keys %by_device == $n;
    die "restart: logged in more than once: @twice\n" if @twice;
    my $dup = mock_events($mock, type => 'duplicate-login', since => $since);
    die "restart: the mock saw two live connections of one device\n" if @$dup;
    my $closed = mock_events($mock, type => 'closed', since => $since);
    die "restart: " . @$closed . " connection(s) closed while idle\n" if @$closed;
    $s = $t->status;
    die "restart: the helper changed ($pid -> $s->{helper}{pid})\n" if $s->{helper}{pid} != $pid;
    my $devs = devices($t, $port);
    my @listed = grep { exists $devs->{device_name($_)} } 1 .. $n;
    my @not = grep { $devs->{device_name($_)}{state} ne 'connected' || $devs->{device_name($_)}{reconnects} }
        @listed;
    die "restart: not connected (or reconnected) in the devices list: "
        . join(', ', map { device_name($_) . ' ' . $JSON->encode($devs->{device_name($_)}) } @not[0 .. ($#not < 4 ? $#not : 4)])
        . "\n" if @not;
    my $log = substr $t->read_file('error.log'), $log_from;
    my $connected_lines = () = $log =~ /WhatsApp device connected/g;
    check_log($t, 'restart');
    $t->stop;
    $t->stop_daemons;

    return { n => $n, connect => $connect, idle => $idle, base => $base, listed => scalar @listed,
             log_connected => $connected_lines };
}

###########################################################################

my @rows = map { run_sessions($_) } @SESSIONS;

my $cores = () = do { open my $fh, '<', '/proc/cpuinfo' or die $!; grep { /^processor\s*:/ } <$fh> };
my $pct = sub { my ($cpu, $window) = @_; 100 * $cpu / $window };
my $per = sub { my ($r, $field) = @_; ($r->{idle}{$field} - $r->{base}{$field}) / $r->{n} };
printf "N live WhatsApp sessions in one helper against the loopback server (one Node process), after a\n"
    . "restart of nginx; %d cores shared by nginx, the mock, this script and whatever else runs (load:\n"
    . "the 1-minute load average at the restart); idle: %.0f s measured after %.0f s of settling\n\n",
    $cores, $IDLE, $SETTLE;
my $head = "%5s | %7s %7s %7s %8s %6s %5s | %7s %7s %8s %8s | %9s %8s %8s %7s\n";
printf $head, 'N', 'first', 'logged', 'active', 'helper', 'mock', 'load', 'helper', 'base', 'RSS', 'anon', 'idle CPU',
    'helper', 'minus', 'mock';
printf $head, '', 'conn s', 'in s', 's', 'ms/sess', 'CPU', '', 'RSS MB', 'RSS MB', 'kB/sess', 'kB/sess', 'ms/sess/m',
    '% core', 'base', '% core';
for my $r (@rows) {
    my ($c, $i, $b) = @$r{qw(connect idle base)};
    printf "%5d | %7.3f %7.3f %7.3f %8.1f %5.0f%% %5.1f | %7.1f %7.1f %8.0f %8.0f | %9.3f %7.3f%% %7.3f%% %6.2f%%\n",
        $r->{n}, $c->{first}, $c->{logged_in}, $c->{active}, 1000 * $c->{helper_cpu} / $r->{n},
        $pct->($c->{mock_cpu}, $c->{active}), $c->{load},
        $i->{rss} / 1024, $b->{rss} / 1024, $per->($r, 'rss'), $per->($r, 'anon'),
        1000 * $i->{cpu} / $i->{window} * 60 / $r->{n}, $pct->($i->{cpu}, $i->{window}),
        $pct->($i->{cpu}, $i->{window}) - $pct->($b->{cpu}, $b->{window}),
        $pct->($i->{mock_cpu}, $i->{window});
}
print "\n";
my $prev;
for my $r (@rows) {
    my ($c, $i, $b) = @$r{qw(connect idle base)};
    printf "N=%d: RSS %.1f MB after the idle window (peak %.1f MB); baseline idle CPU %.3f%% of a core;"
        . " %d of %d in the devices list, all connected; %d 'connected' log lines;\n"
        . "      while idle the mock received %d stanzas, %d of them pings (%.1f per session per minute)%s\n",
        $r->{n}, $i->{rss_after} / 1024, $i->{hwm} / 1024, $pct->($b->{cpu}, $b->{window}),
        $r->{listed}, $r->{n}, $r->{log_connected},
        $i->{stanzas}, $i->{pings}, $i->{pings} / $r->{n} / $i->{window} * 60,
        $prev && $r->{n} > $prev->{n}
            ? sprintf('; each session past N=%d adds %.0f kB', $prev->{n},
                      ($per->($r, 'rss') * $r->{n} - $per->($prev, 'rss') * $prev->{n}) / ($r->{n} - $prev->{n}))
            : '';
    $prev = $r;
}
print "first conn: from the start of nginx to the mock's first WebSocket; logged in: to the last <success>;\n"
    . "active: to the last `passive active` (prekeys counted); helper ms/sess: the helper's CPU from its start\n"
    . "to then, per session; RSS, anon kB/sess: (helper VmRSS, RssAnon - those of the same inboxes' helper\n"
    . "with `whatsapp off`) / N (the first session also pages in the WhatsApp code: shared, file-backed);\n"
    . "idle CPU: utime + stime over the window (% core: the whole helper; minus base: less the baseline's)\n";
my ($big) = grep { $_->{n} == 100 } @rows;
my ($most) = sort { $b->{n} <=> $a->{n} } @rows;
printf "targets: <= 1024 kB RSS per session (N=%d: %.0f kB, anonymous %.0f kB); 100 sessions connected in < 5 s"
    . " (%s);\nidle CPU < 0.1%% of a core for 100 sessions (%s)\n", $most->{n}, $per->($most, 'rss'),
    $per->($most, 'anon'),
    $big ? sprintf('%.2f s to logged in, %.2f s to active', $big->{connect}{logged_in}, $big->{connect}{active})
         : 'N=100 not run',
    $big ? sprintf('the helper %.3f%%, %.3f%% above the baseline', $pct->($big->{idle}{cpu}, $big->{idle}{window}),
                   $pct->($big->{idle}{cpu}, $big->{idle}{window}) - $pct->($big->{base}{cpu}, $big->{base}{window}))
         : 'N=100 not run';
