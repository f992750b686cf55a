#!/usr/bin/perl
# Benchmark, not a test: the webhook location against a plain `return 204`
# location in the same nginx, same body, same run, with webhook_load (our
# load generator, t/bench/webhook_load.cpp: like wrk, but every request is a
# distinct signed webhook, which the webhook location requires).  Prints
# requests/s, latency percentiles and the ratio webhook / baseline.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use ChatwootTest qw(free_port);
use JSON::PP qw(decode_json);
use POSIX ();

my $duration = $ENV{BENCH_SECONDS} // 5;
my $conns = $ENV{BENCH_CONNECTIONS} // 32;
my $workers = $ENV{BENCH_WORKERS} // 1;
my $load = $ENV{WEBHOOK_LOAD} // "$FindBin::Bin/../../build/core/webhook_load";
-x $load or die "no load generator at $load (./build.sh bench builds it)\n";

my $t = ChatwootTest->new(workers => $workers);
my $port = free_port();
$t->write_config($t->chatwoot_http(port => $port, zone => 'size=64m queue=65536'))->run;
$t->wait_helper_running;

my $body_file = "$FindBin::Bin/message_created.json";
open my $fh, '<', $body_file or die $!;
my $body = do { local $/; <$fh> };
$body =~ s/\s+$//;      # as webhook_load sends it (with a unique "id")

# Both locations get the same signed requests, so that the client pays the
# same signing cost in both runs; `return 204` ignores the headers.
sub run_load {
    my ($path, $want) = @_;
    my @cmd = ($load, '--port', $port, '--path', $path, '--connections', $conns,
               '--seconds', $duration, '--body-file', $body_file,
               '--secret', $t->{secret}, $path eq '/plain' ? '--plain' : ());
    open my $pipe, '-|', @cmd or die "$load: $!";
    my $out = do { local $/; <$pipe> };
    close $pipe;
    die "webhook_load failed (exit @{[$? >> 8]}): $out" if $?;
    my $r = decode_json($out);
    my $other = 0;
    $other += $r->{status}{$_} for grep { $_ !~ /^2/ } keys %{$r->{status}};
    my $unexpected = join ', ', map { "$_: $r->{status}{$_}" } grep { $_ ne $want } sort keys %{$r->{status}};
    warn "$path: answers other than $want ($unexpected)\n" if $unexpected;
    warn "$path: $r->{errors} connection error(s)\n" if $r->{errors};
    return { rps => $r->{rps}, total => $r->{requests}, non2xx => $other,
             errors => $r->{errors},
             lat => { map { $_ => us($r->{"p${_}_us"}) } qw(50 90 99) } };
}

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
    open my $fh, '<', "/proc/$pid/stat" or die "no helper $pid: $!";
    my @f = split ' ', (<$fh> =~ s/^.*\) //r);
    return ($f[11] + $f[12]) / POSIX::sysconf(POSIX::_SC_CLK_TCK());
}

run_load('/plain', 204);                # warm-up
my $base = run_load('/plain', 204);
my $helper = $t->status->{helper}{pid};
my $cpu0 = cpu_seconds($helper);
my $persisted0 = $t->status->{store}{persisted};
my $hook = run_load('/chatwoot/webhook', 202);
my $s = $t->wait_for(sub {
    my $st = $t->status;
    $st->{queue}{depth} == 0 ? $st : undef;
}, 60, 'drained');
my $helper_cpu = cpu_seconds($helper) - $cpu0;
my $stored = $s->{store}{persisted} - $persisted0;

printf "body: %d bytes, %d connections, %d s each, %d worker(s), 2 cores shared with webhook_load\n",
    length $body, $conns, $duration, $workers;
printf "%-22s %10s %8s %8s %8s %8s\n", 'location', 'req/s', 'p50', 'p90', 'p99', 'non-2xx';
for ([ 'return 204 (baseline)', $base ], [ 'chatwoot_webhook', $hook ]) {
    my ($name, $r) = @$_;
    printf "%-22s %10.0f %8s %8s %8s %8d\n", $name, $r->{rps}, @{$r->{lat}}{qw(50 90 99)}, $r->{non2xx};
}
printf "ratio webhook/baseline: %.2f\n", $hook->{rps} / $base->{rps};
printf "helper: stored %d webhooks in %d commits (%.0f per commit), %.1f us CPU per webhook, queue drained\n",
    $stored, $s->{store}{batches}, $s->{store}{persisted} / ($s->{store}{batches} || 1),
    1e6 * $helper_cpu / ($stored || 1);
$t->stop;
