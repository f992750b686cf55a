package ChatwootTest::Exchange;

# Both ends of the bridge as one test sees them, for the milestone and
# chaos tests (t/wa_milestone.t, t/wa_chaos.t): what the fake Chatwoot
# holds, read by WhatsApp id (source_id "WAID:<id>") and by conversation,
# and agents answering through signed webhooks as Chatwoot sends them.
#
#   my $x = ChatwootTest::Exchange->new($t, fake => $fake_port, port => $nginx_port);
#   my $view = $x->view;              # {by_waid, conversations, contacts}
#   my $id = $x->agent_reply(conversation => $display_id, content => 'hi');
#   $x->agent_delete(id => $id, conversation => $display_id);
#
# A reply names its conversation's chat the way Chatwoot does: the
# conversation's contact_inbox.source_id, which the bridge set when it
# created the contact (a group's JID or the person's chat).

use strict;
use warnings;

use Carp qw(croak);
use JSON::PP;

use ChatwootTest::FakeChatwoot;
use ChatwootTest::Payloads qw(message_created message_updated);

my $JSON = JSON::PP->new->canonical->utf8;

sub new {
    my ($class, $t, %o) = @_;
    return bless { t => $t, fake => $o{fake} // croak('fake'), port => $o{port} // croak('port'),
                   next_id => $o{first_id} // 90000 }, $class;
}

sub fake_state { ChatwootTest::FakeChatwoot->get_state($_[0]{fake}) }

# What Chatwoot holds now:
#   by_waid       { WhatsApp id => [ message, ... ] } (one element when all is well)
#   conversations { display_id => { source_id, contact (identifier), messages } }
#   contacts      [ contact, ... ]
# Each message carries its conversation's display_id and contact identifier.
sub view {
    my ($self, $s) = @_;
    $s //= $self->fake_state;
    my %contact = map { $_->{id} => $_ } @{$s->{contacts}};
    my (%by, %conv);
    for my $c (@{$s->{conversations}}) {
        my $who = $contact{$c->{contact_id}}{identifier};
        $conv{$c->{display_id}} = { source_id => $c->{source_id}, contact => $who,
                                    contact_id => $c->{contact_id}, messages => $c->{messages} };
        for my $m (@{$c->{messages}}) {
            $m->{conversation} = $c->{display_id};
            $m->{contact} = $who;
            my ($id) = ($m->{source_id} // '') =~ /^WAID:(.+)$/ or next;
            push @{$by{$id}}, $m;
        }
    }
    return { by_waid => \%by, conversations => \%conv, contacts => $s->{contacts}, state => $s };
}

# The conversation whose contact identifier or source_id is one of @jids
# (a person's PN and LID, or a group's JID): its display_id, or undef.
sub conversation_of {
    my ($self, $view, @jids) = @_;
    my %want = map { $_ => 1 } grep { defined } @jids;
    my @hit = grep {
        my $c = $view->{conversations}{$_};
        $want{$c->{contact} // ''} || $want{$c->{source_id} // ''}
    } sort { $a <=> $b } keys %{$view->{conversations}};
    return $hit[0];
}

# An agent writes in conversation $o{conversation}: the message is made in
# the fake Chatwoot first when $o{in_fake} (so it has a real id, as when an
# agent types it), then Chatwoot's signed message_created webhook goes to
# nginx.  Options: content, in_reply_to (a Chatwoot message) with
# in_reply_to_waid (its WhatsApp id), attachments (Chatwoot's attachment
# JSON, e.g. FakeChatwoot->add_blob's).  Returns the Chatwoot message id.
sub agent_reply {
    my ($self, %o) = @_;
    my $t = $self->{t};
    my $conv = $o{conversation} // croak 'conversation';
    my $id;
    if ($o{in_fake}) {
        my ($code, undef, $body) = $t->http($self->{fake}, 'POST', "/api/v1/accounts/1/conversations/$conv/messages",
            headers => { api_access_token => 'test-api-token', 'Content-Type' => 'application/json' },
            body => $JSON->encode({ content => $o{content}, message_type => 'outgoing' }));
        croak "the fake Chatwoot answered $code to the agent's message: $body" unless $code == 200;
        $id = $JSON->decode($body)->{id};
    } else {
        $id = ++$self->{next_id};
    }
    my %attrs;
    if (defined $o{in_reply_to}) {
        $attrs{in_reply_to} = 0 + $o{in_reply_to};
        $attrs{in_reply_to_external_id} = "WAID:$o{in_reply_to_waid}" if defined $o{in_reply_to_waid};
    }
    my $body = $self->_payload(\&message_created, $conv, id => $id, content => $o{content},
                               content_attributes => \%attrs,
                               $o{attachments} ? (attachments => $o{attachments}) : ());
    my ($code, undef, $why) = $t->webhook($self->{port}, $body);
    croak "the webhook of agent message $id answered $code: $why" unless $code == 202;
    return $id;
}

# Chatwoot's message_updated webhook for a deletion of message $o{id}.
sub agent_delete {
    my ($self, %o) = @_;
    my $body = $self->_payload(\&message_updated, $o{conversation}, id => $o{id},
                               content => 'This message was deleted',
                               content_attributes => { deleted => JSON::PP::true });
    my ($code, undef, $why) = $self->{t}->webhook($self->{port}, $body);
    croak "the deletion webhook of $o{id} answered $code: $why" unless $code == 202;
}

# A Payloads body for conversation $conv, its contact made the one the
# fake Chatwoot holds for it (identifier and contact_inbox.source_id).
sub _payload {
    my ($self, $builder, $conv, %o) = @_;
    my $c = $self->{conv_cache}{$conv} //= do {
        my $v = $self->view;
        $v->{conversations}{$conv} // croak "no conversation $conv in the fake Chatwoot";
    };
    my $p = $JSON->decode($builder->(%o, conversation => $conv));
    $p->{conversation}{contact_inbox}{source_id} = $c->{source_id};
    $p->{conversation}{contact_inbox}{contact_id} = $c->{contact_id};
    $p->{conversation}{meta}{sender}{identifier} = $c->{contact};
    $p->{conversation}{meta}{sender}{id} = $c->{contact_id};
    return $JSON->encode($p);
}

# A device JID's "user:device" with the user as a phone number: LIDs are
# mapped through %$lid_to_pn (LID user => phone), so deliveries to one
# device count together whichever form addressed it.
sub device_key {
    my ($jid, $lid_to_pn) = @_;
    my ($user, $dev) = $jid =~ /^(\d+)(?::(\d+))?@/ or return $jid;
    $user = $lid_to_pn->{$user} // $user;
    return "$user:" . ($dev // 0);
}

1;
