# No loss, no duplicates: 10,000 webhooks from 32 concurrent keep-alive
# clients while nginx reloads and the helper is killed with -9, both in the
# middle of the run.  Every 2xx answer must match exactly one stored row;
# nothing answered 2xx may be missing; nothing else may be stored.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest qw(free_port);
use ChatwootTest::Payloads qw(message_created);
use Test::More;
use POSIX qw(_exit);
use Time::HiRes qw(sleep time);

my $TOTAL = 10_000;
my $CLIENTS = 32;

my $t = ChatwootTest->new;
my $port = free_port();
$t->write_config($t->chatwoot_http(port => $port))->run;
$t->wait_helper_running;
$t->allow_log(qr/cache manager process \d+ exited on signal 9/);

# Each client reports one byte per finished request through a pipe, so the
# parent knows when the run is a third and two thirds done.
pipe my $progress_r, my $progress_w or die $!;
my $out = $t->dir . '/clients';
mkdir $out;
my @kids;
for my $c (1 .. $CLIENTS) {
    my $n = int($TOTAL / $CLIENTS) + ($c <= $TOTAL % $CLIENTS ? 1 : 0);
    my $pid = fork // die $!;
    if ($pid == 0) {
        close $progress_r;
        $progress_w->autoflush(1);
        open my $log, '>', "$out/$c" or die $!;
        my $conn = ChatwootTest::Conn->new($port);
        for my $i (1 .. $n) {
            my $id = "c$c-$i";
            my ($code) = eval {
                $t->webhook($port, message_created(id => $c * 100_000 + $i, content => $id,
                                                   conversation => $c),
                            conn => $conn);
            };
            $code //= 'ERR';
            print {$log} "$id $code\n";
            syswrite $progress_w, '.';
            if ($code eq 'ERR') {
                $conn->close;
                $conn = ChatwootTest::Conn->new($port);
            }
        }
        close $log;
        _exit(0);
    }
    push @kids, $pid;
}
close $progress_w;

my ($done, $reloaded, $killed) = (0, 0, 0);
while (sysread $progress_r, my $buf, 4096) {
    $done += length $buf;
    if (!$reloaded && $done >= $TOTAL / 3) {
        $reloaded = $done;
        $t->signal('HUP');
    }
    if (!$killed && $done >= 2 * $TOTAL / 3) {
        # the helper of the new generation, once the old one has left
        my $h = $t->wait_for(sub { my $p = $t->helper_pids; @$p == 1 ? $p : undef },
                             10, 'one helper after the reload');
        kill 'KILL', $h->[0];
        $killed = $done;
    }
}
waitpid $_, 0 for @kids;
ok($reloaded, "reloaded after $reloaded requests");
ok($killed, "helper killed after $killed requests");

my (%ok, %status, $lines);
for my $c (1 .. $CLIENTS) {
    open my $fh, '<', "$out/$c" or die $!;
    while (<$fh>) {
        my ($id, $code) = split;
        $lines++;
        $status{$code}++;
        $ok{$id} = 1 if $code =~ /^2/;
    }
}
is($lines, $TOTAL, 'every request got an outcome');
diag 'answers: ' . join ', ', map { "$_ x $status{$_}" } sort keys %status;
ok(!$status{ERR}, 'no request failed at the transport level');
my $accepted = scalar keys %ok;
ok($accepted > $TOTAL * 0.9, "most were accepted ($accepted)");

my $s = $t->wait_for(sub {
    my $st = $t->status;
    $st->{helper}{state} eq 'running' && $st->{queue}{depth} == 0 ? $st : undef;
}, 20, 'queue drained');
is($s->{store}{persisted}, $accepted, 'store.persisted equals the number of 2xx answers');
is($s->{helper}{restarts}, 2, 'one reload and one crash');

my $rows = $t->sql(q{SELECT json_extract(payload, '$.event.content') FROM inbound_events});
my %seen;
my @dups = grep { $seen{$_}++ } map { $_->[0] } @$rows;
is(scalar @$rows, $accepted, 'as many rows as 2xx answers');
is(scalar @dups, 0, 'no webhook stored twice') or diag "@dups[0..9]";
my @missing = grep { !$seen{$_} } keys %ok;
is(scalar @missing, 0, 'no 2xx webhook missing') or diag "@missing[0..9]";
my @extra = grep { !$ok{$_} } keys %seen;
is(scalar @extra, 0, 'nothing stored that was not answered 2xx');

my $keys = $t->sql('SELECT count(DISTINCT ring_epoch || \'/\' || ring_seq) FROM inbound_events');
is($keys->[0][0], $accepted, 'ring keys unique');

# Order: each client's webhooks are stored in the order it sent them.
my %last;
my $out_of_order = 0;
for my $r (@{$t->sql(q{SELECT json_extract(payload, '$.event.content') FROM inbound_events ORDER BY id})}) {
    my ($c, $i) = $r->[0] =~ /^c(\d+)-(\d+)$/;
    $out_of_order++ if defined $last{$c} && $i < $last{$c};
    $last{$c} = $i;
}
is($out_of_order, 0, 'per-client order kept in the store');

$t->finish;
done_testing;
