#!/usr/bin/perl
# Benchmark, not a test: the webhook location against a plain `return 204`
# location in the same nginx, same body, same run, with wrk.  Prints
# requests/s, latency percentiles and the ratio webhook / baseline.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use ChatwootTest qw(free_port);
use POSIX ();

my $duration = $ENV{BENCH_SECONDS} // 5;
my $conns = $ENV{BENCH_CONNECTIONS} // 32;
my $workers = $ENV{BENCH_WORKERS} // 1;

my $t = ChatwootTest->new(workers => $workers);
my $port = free_port();
$t->write_config($t->chatwoot_http(port => $port, zone => 'size=64m queue=65536'))->run;
$t->wait_helper_running;

open my $fh, '<', "$FindBin::Bin/message_created.json" or die $!;
my $body = do { local $/; <$fh> };
$body =~ s/\s+$//;
(my $lua_body = $body) =~ s/(["\\])/\\$1/g;
my $script = $t->write_file('post.lua', <<"LUA");
wrk.method = "POST"
wrk.body = "$lua_body"
wrk.headers["Content-Type"] = "application/json"
LUA

sub run_wrk {
    my ($path) = @_;
    my $out = qx{wrk -t1 -c$conns -d${duration}s --latency -s $script http://127.0.0.1:$port$path 2>&1};
    die "wrk failed:\n$out" if $?;
    my ($rps) = $out =~ /Requests\/sec:\s+([\d.]+)/;
    my %lat = $out =~ /^\s+(50|90|99)%\s+([\d.]+\w+)/mg;
    my ($non2xx) = $out =~ /Non-2xx or 3xx responses:\s+(\d+)/;
    my ($total) = $out =~ /(\d+) requests in/;
    return { rps => $rps, lat => \%lat, non2xx => $non2xx // 0, total => $total };
}

# CPU seconds a process has used (user + system), from /proc.
sub cpu_seconds {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or die "no helper $pid: $!";
    my @f = split ' ', (<$fh> =~ s/^.*\) //r);
    return ($f[11] + $f[12]) / POSIX::sysconf(POSIX::_SC_CLK_TCK());
}

run_wrk('/plain');                      # warm-up
my $base = run_wrk('/plain');
my $helper = $t->status->{helper}{pid};
my $cpu0 = cpu_seconds($helper);
my $persisted0 = $t->status->{store}{persisted};
my $hook = run_wrk('/chatwoot/webhook');
my $s = $t->wait_for(sub {
    my $st = $t->status;
    $st->{queue}{depth} == 0 ? $st : undef;
}, 60, 'drained');
my $helper_cpu = cpu_seconds($helper) - $cpu0;
my $stored = $s->{store}{persisted} - $persisted0;

printf "body: %d bytes, %d connections, %d s each, %d worker(s), 2 cores shared with wrk\n",
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
