# Agent replies go while webhooks keep coming: a steady stream of them (here
# one every 20 ms, far below what the webhook location takes) must not hold
# the first reply until the stream stops.  Each webhook wakes the inbox's
# runtime; a wake-up used to re-arm its 200 ms tick, so one that came before
# the tick put it off again, and under a stream the sender never ran (the
# messages benchmark saw every reply at 100 msg/s wait 1 to 3 s).
use strict;
use warnings;
use lib 't/lib';
use ChatwootTest;
use ChatwootTest::FakeChatwoot;
use ChatwootTest::Payloads qw(message_created);
use JSON::PP;
use Test::More;
use Time::HiRes qw(sleep);

my $JSON = JSON::PP->new->canonical->utf8;
my $t = ChatwootTest->new;
my ($fake, $device, $port) = $t->start_bridge;

sub sent_files {
    opendir my $dh, "$device/sent" or return [];
    return [sort grep { /\.json$/ && !/-read\.json$/ && !/^typing-/ } readdir $dh];
}

# Maria writes first, so Chatwoot has her contact and conversation.
my $chat = '5511987654321@s.whatsapp.net';
open my $fh, '>', "$device/0001.json.tmp" or die $!;
print {$fh} $JSON->encode({ id => 'A1', chat => $chat, push_name => 'Maria', text => 'oi' });
close $fh;
rename "$device/0001.json.tmp", "$device/0001.json" or die $!;
my $state = $t->wait_for(sub {
    my $s = ChatwootTest::FakeChatwoot->get_state($fake);
    @{$s->{conversations}} && @{$s->{conversations}[0]{messages}} ? $s : undef;
}, 15, "Maria's message in Chatwoot");
my $conv = $state->{conversations}[0]{display_id};

# The stream: reply n, then the next one 20 ms later, until the first reply
# has gone (or 100 webhooks, 2 s and more, have not let it go).
my $conn = ChatwootTest::Conn->new($port);
my ($posted, $sent_while_streaming) = (0, 0);
for my $n (1 .. 100) {
    my ($code) = $t->webhook($port, message_created(id => 9000 + $n, conversation => $conv,
                                                    content => "reply $n"), conn => $conn);
    is($code, 202, "reply $n accepted") or last if $n == 1 || $code != 202;
    $posted = $n;
    if (@{sent_files()}) {
        $sent_while_streaming = 1;
        last;
    }
    sleep 0.02;
}
ok($sent_while_streaming, 'the first reply went while webhooks kept coming')
    or diag "nothing sent after $posted webhooks";
cmp_ok($posted, '<', 100, 'within the stream');

# Then every reply posted goes, once each and in order.
$t->wait_for(sub { @{sent_files()} >= $posted ? 1 : undef }, 15, "all $posted replies sent");
$t->wait_outbox_settled;
my @texts = map {
    open my $f, '<', "$device/sent/$_" or die $!;
    local $/;
    my $m = $JSON->decode(<$f>);
    ($m->{text} // '') =~ /(reply \d+)\z/ ? $1 : '?';
} @{sent_files()};
is_deeply(\@texts, [map { "reply $_" } 1 .. $posted], 'each reply sent once, in order');

$t->finish;
done_testing;
