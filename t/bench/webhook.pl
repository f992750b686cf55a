#!/usr/bin/perl
# Benchmark, not a test: the webhook location against a plain `return 204`
# location in the same nginx, same body, same run, with webhook_load (our
# load generator, t/bench/webhook_load.cpp: like wrk, but every request is a
# distinct signed webhook, which the webhook location requires).  Prints
# requests/s, latency percentiles and the ratio webhook / baseline.
#
# The webhook's rate counts 202 answers only: a 503 (queue full, the helper
# fell behind) is fast and would flatter it.  Each worker count gets its own
# nginx; in it, BENCH_RUNS rounds of baseline then webhook, one line each,
# then the median ratio and the spread, which says how noisy the machine
# was (the load generator, the workers and the helper share its cores).
# "cpu us/req" is the CPU time of the load generator + the workers per
# request; the helper's is per stored webhook, drain included.
#
#   BENCH_WORKERS=1,2 BENCH_RUNS=3 BENCH_SECONDS=5 BENCH_CONNECTIONS=32
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use ChatwootTest qw(free_port);
use JSON::PP qw(decode_json);
use POSIX ();

my $duration = $ENV{BENCH_SECONDS} // 5;
my $conns = $ENV{BENCH_CONNECTIONS} // 32;
my @workers = split /,/, $ENV{BENCH_WORKERS} // '1,2';
my $runs = $ENV{BENCH_RUNS} // 3;
my $load = $ENV{WEBHOOK_LOAD} // "$FindBin::Bin/../../build/core/webhook_load";
-x $load or die "no load generator at $load (./build.sh bench builds it)\n";

my $body_file = "$FindBin::Bin/message_created.json";
open my $fh, '<', $body_file or die $!;
my $body = do { local $/; <$fh> };
$body =~ s/\s+$//;      # as webhook_load sends it (with a unique "id")

my $cores = qx{nproc 2>/dev/null} =~ s/\s+//gr || '?';
my $next_id = 1;

# Microseconds as wrk shows them.
sub us {
    my ($us) = @_;
    return $us >= 1e6 ? sprintf('%.2fs', $us / 1e6)
         : $us >= 1e3 ? sprintf('%.2fms', $us / 1e3)
         : sprintf('%.0fus', $us);
}

# CPU seconds a process has used (user + system), from /proc.
sub cpu_seconds {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or die "no process $pid: $!";
    my @f = split ' ', (<$fh> =~ s/^.*\) //r);
    return ($f[11] + $f[12]) / POSIX::sysconf(POSIX::_SC_CLK_TCK());
}

sub median {
    my @s = sort { $a <=> $b } @_;
    return @s % 2 ? $s[$#s / 2] : ($s[@s / 2 - 1] + $s[@s / 2]) / 2;
}

# Both locations get the same signed requests, so that the client pays the
# same signing cost in both runs; `return 204` ignores the headers.  Each
# run starts at fresh ids: a webhook the store saw already would be skipped.
sub run_load {
    my ($t, $port, $path, $want, $workers) = @_;
    my @w0 = map { cpu_seconds($_) } @$workers;
    my $c0 = (POSIX::times())[3] + (POSIX::times())[4];
    my @cmd = ($load, '--port', $port, '--path', $path, '--connections', $conns,
               '--seconds', $duration, '--body-file', $body_file,
               '--secret', $t->{secret}, '--first-id', $next_id,
               $path eq '/plain' ? '--plain' : ());
    open my $pipe, '-|', @cmd or die "$load: $!";
    my $out = do { local $/; <$pipe> };
    close $pipe;
    die "webhook_load failed (exit @{[$? >> 8]}): $out" if $?;
    my $tck = POSIX::sysconf(POSIX::_SC_CLK_TCK());
    my $load_cpu = ((POSIX::times())[3] + (POSIX::times())[4] - $c0) / $tck;
    my $worker_cpu = 0;
    $worker_cpu += cpu_seconds($workers->[$_]) - $w0[$_] for 0 .. $#$workers;
    my $r = decode_json($out);
    $next_id += $r->{requests} + 1;
    my %status = %{$r->{status}};
    my $other = 0;
    $other += $status{$_} for grep { $_ ne $want } keys %status;
    my $unexpected = join ', ', map { "$_: $status{$_}" } grep { $_ ne $want } sort keys %status;
    warn "$path: answers other than $want ($unexpected)\n" if $unexpected;
    warn "$path: $r->{errors} connection error(s)\n" if $r->{errors};
    my $n = $r->{requests} || 1;
    return { rps => ($status{$want} // 0) / $r->{seconds}, other => $other,
             cpu => sprintf('%.1f+%.1f', 1e6 * $load_cpu / $n, 1e6 * $worker_cpu / $n),
             lat => { map { $_ => us($r->{"p${_}_us"}) } qw(50 90 99) } };
}

printf "body: %d bytes, %d connections, %d s each, %d round(s); %s cores shared by "
    . "webhook_load, the workers and the helper\n", length $body, $conns, $duration, $runs, $cores;

for my $w (@workers) {
    my $t = ChatwootTest->new(workers => $w);
    my $port = free_port();
    $t->write_config($t->chatwoot_http(port => $port, zone => 'size=64m queue=65536'))->run;
    $t->wait_helper_running;
    my $helper = $t->status->{helper}{pid};
    my @workers = grep { $_ != $helper } map { /^(\d+)/ ? $1 : () } qx{pgrep -P $t->{master}};

    printf "\n%d worker(s)\n%-5s %-12s %9s %8s %8s %8s %6s %10s %6s  %s\n", $w, 'round', 'location',
        'req/s', 'p50', 'p90', 'p99', 'other', 'cpu us/req', 'ratio', 'helper';
    run_load($t, $port, '/plain', 204, \@workers);     # warm-up
    my @ratios;
    for my $round (1 .. $runs) {
        my $base = run_load($t, $port, '/plain', 204, \@workers);
        my $cpu0 = cpu_seconds($helper);
        my $persisted0 = $t->status->{store}{persisted};
        my $batches0 = $t->status->{store}{batches};
        my $hook = run_load($t, $port, '/chatwoot/webhook', 202, \@workers);
        my $s = $t->wait_for(sub {
            my $st = $t->status;
            $st->{queue}{depth} == 0 ? $st : undef;
        }, 120, 'drained');
        my $stored = $s->{store}{persisted} - $persisted0;
        my $commits = $s->{store}{batches} - $batches0;
        my $helper_us = 1e6 * (cpu_seconds($helper) - $cpu0) / ($stored || 1);
        my $ratio = $hook->{rps} / ($base->{rps} || 1);
        push @ratios, $ratio;
        printf "%-5d %-12s %9.0f %8s %8s %8s %6d %10s\n", $round, 'return 204', $base->{rps},
            @{$base->{lat}}{qw(50 90 99)}, $base->{other}, $base->{cpu};
        printf "%-5s %-12s %9.0f %8s %8s %8s %6d %10s %6.2f  %.1f us CPU per webhook, "
            . "%.0f per commit\n", '', 'webhook', $hook->{rps}, @{$hook->{lat}}{qw(50 90 99)},
            $hook->{other}, $hook->{cpu}, $ratio, $helper_us, $stored / ($commits || 1);
    }
    my @s = sort { $a <=> $b } @ratios;
    printf "%d worker(s): ratio webhook (202s) / baseline: median %.2f, min %.2f, max %.2f\n",
        $w, median(@ratios), $s[0], $s[-1];
    $t->stop;
}
