import { graphql } from "./gql/index.js";

// What a timeline row shows; createPost selects the same, so that its result can join the cached list.
export const TimelinePost = graphql(`
  fragment TimelinePost on Post {
    id
    body
    createdAt
    author { id handle displayName }
    likeCount
    viewerHasLiked
    repostOf { id body author { id handle } }
    media { id url width height altText }
  }
`);

export const LogIn = graphql(`
  mutation LogIn($input: LogInInput!) {
    logIn(input: $input) {
      __typename
      ... on AuthPayload { accessToken refreshToken viewer { id handle } }
      ... on Error { message code }
      ... on ValidationError { fieldErrors { field message } }
    }
  }
`);

export const RefreshSession = graphql(`
  mutation RefreshSession($refreshToken: String!) {
    refreshSession(input: { refreshToken: $refreshToken }) {
      __typename
      ... on AuthPayload { accessToken refreshToken }
      ... on Error { message code }
    }
  }
`);

export const HomeTimeline = graphql(`
  query HomeTimeline($first: Int!, $after: String) {
    homeTimeline(first: $first, after: $after) {
      edges { cursor node { ...TimelinePost } }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

export const Viewer = graphql(`
  query Viewer {
    viewer { id handle displayName }
  }
`);

// The result carries the post's id and the two fields that changed: the normalized cache updates the post in place.
export const LikePost = graphql(`
  mutation LikePost($postId: ID!) {
    likePost(input: { postId: $postId }) {
      __typename
      ... on Post { id likeCount viewerHasLiked }
      ... on Error { message code }
    }
  }
`);

export const CreatePost = graphql(`
  mutation CreatePost($input: CreatePostInput!) {
    createPost(input: $input) {
      __typename
      ... on Post { ...TimelinePost }
      ... on Error { message code }
      ... on ValidationError { fieldErrors { field message } }
    }
  }
`);

export const UploadMedia = graphql(`
  mutation UploadMedia($input: UploadMediaInput!) {
    uploadMedia(input: $input) {
      __typename
      ... on Media { id url width height altText }
      ... on ValidationError { message code fieldErrors { field message } }
    }
  }
`);

export const MessageReceived = graphql(`
  subscription MessageReceived($conversationId: ID) {
    messageReceived(conversationId: $conversationId) {
      id
      body
      createdAt
      sender { id handle }
      conversation { id }
    }
  }
`);
