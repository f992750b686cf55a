# A reload that changes chatwoot_zone: queue= alone keeps the zone and its
# counters; a new size= makes a new zone (nginx cannot resize shared memory),
# and nothing stored before is lost or stored twice.
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest qw(free_port);
use ChatwootTest::Payloads qw(message_created);
use Test::More;

my $t = ChatwootTest->new;
my $port = free_port();
my @sent;
my $next_id = 0;
sub post_some {
    my ($tag) = @_;
    for my $i (1 .. 3) {
        my ($code) = $t->webhook($port, message_created(id => ++$next_id, content => "$tag-$i"));
        is($code, 202, "$tag-$i accepted");
        push @sent, "$tag-$i";
    }
}
sub reload_with {
    my ($zone) = @_;
    my $old = $t->helper_pids->[0];
    $t->write_config($t->chatwoot_http(port => $port, zone => $zone));
    $t->reload;
    return $t->wait_for(sub {
        my $st = $t->status;
        $st->{helper}{pid} != $old && $st->{helper}{state} eq 'running' ? $st : undef;
    }, 5, 'new helper running');
}

$t->write_config($t->chatwoot_http(port => $port, zone => 'size=2m queue=100'))->run;
my $s = $t->wait_helper_running;
is($s->{queue}{capacity}, 100, 'capacity 100');
my $bytes = $s->{queue}{bytes_size};
post_some('first');
$t->wait_for(sub { $t->status->{store}{persisted} == 3 }, 5, 'persisted');

$s = reload_with('size=2m queue=50');
is($s->{queue}{capacity}, 50, 'queue= changed in place');
is($s->{queue}{enqueued}, 3, 'the same zone: counters kept');
post_some('second');

$s = reload_with('size=3m queue=50');
ok($s->{queue}{bytes_size} > $bytes, 'size= made a larger zone');
is($s->{queue}{enqueued}, 0, 'a new zone starts its counters over');
$t->wait_for(sub { $t->status->{store}{persisted} == 6 }, 5, 'persisted counts the store');
post_some('third');
$t->wait_for(sub { $t->status->{store}{persisted} == 9 }, 5, 'all persisted');

my $rows = $t->sql(q{SELECT json_extract(payload, '$.event.content') FROM inbound_events ORDER BY id});
is_deeply([map { $_->[0] } @$rows], \@sent, 'every webhook stored once, in order');

$t->finish;
done_testing;
