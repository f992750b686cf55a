# A full queue answers 503 with Retry-After, never drops silently, and
# recovers once the helper drains it.  The helper is frozen with SIGSTOP so
# that nothing drains meanwhile; workers must not wait for it.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest qw(free_port);
use ChatwootTest::Payloads qw(message_created);
use Test::More;

my $t = ChatwootTest->new;
my $port = free_port();
$t->write_config($t->chatwoot_http(port => $port, zone => 'size=128k queue=8',
                                   webhook => 'max_body=24k'))->run;
my $s = $t->wait_helper_running;
my $helper = $s->{helper}{pid};
is($s->{queue}{capacity}, 8, 'queue= sets the capacity');

my $id = 0;
sub post { ($t->webhook($port, message_created(id => ++$id, content => $_[0])))[0, 1, 2] }

kill 'STOP', $helper;

my @accepted;
for my $i (1 .. 8) {
    my ($code) = post("i$i");
    push @accepted, $i if $code == 202;
}
is(scalar @accepted, 8, 'eight fit while the helper is frozen');

my ($code, $h, $body) = post('i9');
is($code, 503, 'the ninth answers 503');
is($h->{'retry-after'}, '1', 'with Retry-After');
like($body, qr/"error":"queue full"/, 'and a reason');

$s = $t->status;
is($s->{queue}{depth}, 8, 'status answers while the helper is frozen: depth 8');
is($s->{queue}{rejected}, 1, 'one rejected');
is($s->{queue}{enqueued}, 8, 'eight enqueued');
is($s->{store}{persisted}, 0, 'nothing persisted yet');

kill 'CONT', $helper;
$t->wait_for(sub { $t->status->{queue}{depth} == 0 }, 5, 'drained');
($code) = post('i10');
is($code, 202, 'accepted again after the drain');
push @accepted, 10;

# Bytes run out before the count does.
kill 'STOP', $helper;
$s = $t->status;
my $big = 'b' x 15000;
my ($n202, $n503) = (0, 0);
for (1 .. 20) {
    my ($c) = post($big);
    $c == 202 ? $n202++ : $c == 503 ? $n503++ : fail("unexpected $c");
    last if $n503;
}
ok($n202 >= 1 && $n202 < 8, "byte limit reached after $n202 large bodies");
is($n503, 1, 'then 503');
kill 'CONT', $helper;

my $want = @accepted + $n202;
$t->wait_for(sub { $t->status->{store}{persisted} == $want }, 5, "$want persisted");
my $rows = $t->sql(q{SELECT count(*), count(DISTINCT json_extract(payload, '$.event.message_id')) FROM inbound_events});
is_deeply($rows, [[$want, $want]], 'every accepted body stored once, none of the refused');
my $small = $t->sql(q{SELECT json_extract(payload, '$.event.content') FROM inbound_events WHERE length(payload) < 2000 ORDER BY ring_seq});
is_deeply([map { $_->[0] } @$small], [map { "i$_" } @accepted],
          'the accepted small bodies, in order');

$t->finish;
done_testing;
