import { renderGraphiQL } from "@graphql-yoga/render-graphiql";

const defaultQuery = /* GraphQL */ `# Welcome to Chirp. Run LogIn (demo user alice / chirp-demo-password),
# copy accessToken into the Headers tab below as
#   { "Authorization": "Bearer <accessToken>" }
# and then run HomeTimeline.

mutation LogIn {
  logIn(input: { login: "alice", password: "chirp-demo-password" }) {
    __typename
    ... on AuthPayload { accessToken refreshToken viewer { handle } }
    ... on Error { message }
  }
}

query HomeTimeline {
  homeTimeline(first: 10) {
    edges {
      node {
        id
        body
        createdAt
        author { handle displayName }
        likeCount replyCount repostCount viewerHasLiked
        repostOf { body author { handle } }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
`;

export const graphiql = {
  renderGraphiQL,
  graphiql: { title: "Chirp GraphiQL", defaultQuery },
};
